/** Typed values (strings, lists, booleans) read from YAML nodes, reporting what does not fit. */
import { isScalar, isSeq } from './yaml/tree.js';
import type { YamlNode } from './yaml/tree.js';
import { formatPos } from './hint.js';
import type { Entry, SourceFile } from './source.js';
import { dropRepeats, mapDefined } from '../arrays.js';

/** One list item: its value (aliases resolved) and where it is written. */
export interface ListItem {
  node: YamlNode | undefined;
  at: YamlNode;
}

/** A checked text item. */
export interface TextItem {
  value: string;
  at: YamlNode;
}

export interface TextListSpec {
  /** What the whole value should be, e.g. "a list of node ids". */
  list: string;
  /** What one item should be, e.g. "a node id". */
  item: string;
  /** Further checks of one item; returns the value to keep (e.g. normalised) or undefined after reporting. */
  check?: (text: string, at: YamlNode) => string | undefined;
}

/** Items of a YAML sequence, or none after reporting that the value is not one. */
export function listItems(file: SourceFile, e: Entry, list: string): ListItem[] {
  if (!e.value) return [];
  if (!isSeq(e.value)) {
    const text = file.text(e.value);
    const hint = text !== undefined ? `write \`${e.key}: [${text}]\`` : undefined;
    file.report(e.at, `expected ${list}`, hint);
    return [];
  }
  return (e.value.items as YamlNode[]).map((raw) => ({ node: file.deref(raw), at: raw }));
}

/** A string (non-empty) value, or undefined after reporting. */
export function textValue(file: SourceFile, node: YamlNode | undefined, at: YamlNode, what: string): string | undefined {
  const text = file.text(node);
  if (text === undefined) file.report(at, `expected ${what}`);
  else if (text === '') file.report(at, `expected ${what}, not an empty string`);
  else return text;
  return undefined;
}

/**
 * A list of strings, each checked, with repeats reported at the later one
 * (comparing the kept values, so `out/` repeats `out`).
 */
export function textList(file: SourceFile, e: Entry, spec: TextListSpec): TextItem[] {
  const items = mapDefined(listItems(file, e, spec.list), ({ node, at }) => {
    const text = textValue(file, node, at, spec.item);
    const value = text !== undefined && spec.check ? spec.check(text, at) : text;
    return value === undefined ? undefined : { value, at };
  });
  return withoutRepeats(file, e.key, items, textOf);
}

const textOf = (i: TextItem): string => i.value;

/** Drops items whose key was already listed (from `items` itself, which it returns), reporting each repeat. */
export function withoutRepeats<T extends { at: YamlNode }>(
  file: SourceFile,
  listKey: string,
  items: T[],
  keyOf: (item: T) => string,
): T[] {
  return dropRepeats(items, keyOf, (item, earlier) =>
    file.report(item.at, `'${keyOf(item)}' is listed twice in '${listKey}'`, `first listed at ${formatPos(file.pos(earlier.at))}`),
  );
}

/** A boolean scalar, or undefined after reporting. */
export function boolValue(file: SourceFile, node: YamlNode | undefined, at: YamlNode): boolean | undefined {
  if (isScalar(node) && typeof node.value === 'boolean') return node.value;
  file.report(at, 'expected true or false');
  return undefined;
}
