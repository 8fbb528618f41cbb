import type { Document, Node as LibNode } from 'yaml';
import { yamlLibrary } from './library.js';
import type { YamlAlias, YamlMap, YamlNode, YamlSeq } from './tree.js';

/** What the `yaml` package says about a file: its tree, and its errors and warnings at offsets. */
export interface DocumentParse {
  root: YamlNode | null;
  errors: { offset: number; code: string; message: string }[];
  warnings: { offset: number; message: string }[];
}

/**
 * The slow path, for what the fast path declines: the `yaml` package's
 * Document, whose errors are located and worded for people, turned into
 * kiln's tree. Duplicate keys are left to the readers, which say what was
 * duplicated. Iterative: a document that parsed may still nest deeply.
 */
export function treeFromDocument(text: string): DocumentParse {
  const lib = yamlLibrary();
  const doc = lib.parseDocument(text, { prettyErrors: false, uniqueKeys: false });
  return {
    root: convert(lib, doc),
    errors: doc.errors.map((e) => ({ offset: e.pos[0], code: e.code, message: e.message })),
    warnings: doc.warnings.map((w) => ({ offset: w.pos[0], message: w.message })),
  };
}

type Filler = () => void;

function convert(lib: typeof import('yaml'), doc: Document.Parsed): YamlNode | null {
  const made = new Map<LibNode, YamlNode>();
  const aliases: { node: YamlAlias; lib: import('yaml').Alias }[] = [];
  const work: Filler[] = [];
  /** The tree node for a library node, its children filled in later from `work`. */
  const node = (n: LibNode): YamlNode => {
    const start = n.range?.[0] ?? 0;
    let out: YamlNode;
    if (lib.isScalar(n)) {
      const v = n.value as string | number | boolean | null;
      const plain = n.type === 'PLAIN';
      if (plain && (typeof v === 'number' || typeof v === 'boolean')) out = { kind: 'scalar', start, value: v, written: n.source };
      else if (plain && v === null && n.source === '') out = { kind: 'scalar', start, value: null, empty: true };
      else out = { kind: 'scalar', start, value: v };
    } else if (lib.isMap(n)) {
      const map: YamlMap = { kind: 'map', start, items: [] };
      work.push(() => {
        for (const p of n.items) {
          const key = child(p.key as LibNode | null) ?? { kind: 'scalar' as const, start: map.start, value: null, empty: true as const };
          const value = child(p.value as LibNode | null);
          map.items.push({ key, value: value?.kind === 'scalar' && value.empty ? null : value });
        }
      });
      out = map;
    } else if (lib.isSeq(n)) {
      const seq: YamlSeq = { kind: 'seq', start, items: [] };
      work.push(() => {
        for (const item of n.items) seq.items.push(child(item as LibNode | null) ?? { kind: 'scalar', start: seq.start, value: null, empty: true });
      });
      out = seq;
    } else if (lib.isAlias(n)) {
      const alias: YamlAlias = { kind: 'alias', start, name: n.source, target: undefined };
      aliases.push({ node: alias, lib: n });
      out = alias;
    } else {
      out = { kind: 'scalar', start, value: null };
    }
    made.set(n, out);
    return out;
  };
  const child = (n: LibNode | null): YamlNode | null => (n ? node(n) : null);
  const root = child(doc.contents as LibNode | null);
  for (let fill = work.pop(); fill; fill = work.pop()) fill();
  for (const a of aliases) {
    const target = a.lib.resolve(doc);
    a.node.target = target ? made.get(target) : undefined;
  }
  return root?.kind === 'scalar' && root.empty ? null : root;
}
