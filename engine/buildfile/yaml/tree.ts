/**
 * kiln's positioned YAML tree: what the build-file readers walk. Two parsers
 * produce it (yaml/events.ts from js-yaml's event stream, the fast path;
 * yaml/document.ts from the `yaml` package's Document, for files the fast path
 * declines and for every syntax error), so the readers never depend on one
 * parser's classes. Offsets are UTF-16 indexes into the file's text.
 */
export type YamlNode = YamlScalar | YamlMap | YamlSeq | YamlAlias;

export interface YamlScalar {
  readonly kind: 'scalar';
  /** Where the scalar is written (a quoted one at its opening quote, a block one at its `|` or `>`). */
  readonly start: number;
  /** The value as YAML 1.2's core schema reads it. */
  readonly value: string | number | boolean | null;
  /**
   * The text of a plain number or boolean (`1.0`, `True`), so a name written
   * `1.0` stays "1.0". Undefined for every other scalar.
   */
  readonly written?: string;
  /** An empty list item (`-` and nothing after it): present, so it can be pointed at, but with no value. */
  readonly empty?: true;
}

export interface YamlPair {
  readonly key: YamlNode;
  /** Null when the key has no value (`key:`). */
  readonly value: YamlNode | null;
}

export interface YamlMap {
  readonly kind: 'map';
  readonly start: number;
  readonly items: YamlPair[];
}

export interface YamlSeq {
  readonly kind: 'seq';
  readonly start: number;
  readonly items: YamlNode[];
}

/** `*name`: kept as a node of its own so a mistake in a value is pointed at where the alias is used. */
export interface YamlAlias {
  readonly kind: 'alias';
  readonly start: number;
  readonly name: string;
  /** The anchored node; undefined for an unknown anchor. Set once the whole document is converted. */
  target: YamlNode | undefined;
}

export const isScalar = (n: YamlNode | null | undefined): n is YamlScalar => n?.kind === 'scalar';
export const isMap = (n: YamlNode | null | undefined): n is YamlMap => n?.kind === 'map';
export const isSeq = (n: YamlNode | null | undefined): n is YamlSeq => n?.kind === 'seq';
export const isAlias = (n: YamlNode | null | undefined): n is YamlAlias => n?.kind === 'alias';
