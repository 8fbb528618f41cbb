import { resolvePlain } from './core-schema.js';
import type { YamlMap, YamlNode, YamlPair, YamlScalar, YamlSeq } from './tree.js';

/**
 * The fastest path, for the pieces of a cut file (sections.ts): a run of
 * `id:` entries read straight from the text into kiln's tree, in the layout
 * generated build files are written in. js-yaml's event stream spent about
 * 0.3 s of a 100,000-node load making a million event objects the tree is
 * then made from; this reads each line once and makes only the tree.
 *
 * It takes a piece only when every line is one of:
 *   - a blank or comment line;
 *   - `id:` at the entries' indentation, its value the block mapping below it;
 *   - `key: value` at that mapping's indentation, the value a plain scalar,
 *     a quoted one without escapes, or a one-line flow list of those;
 *   - `key:` alone, the value empty or a block list of `- value` lines.
 * Anything else (block scalars, escapes, multi-line scalars, flow mappings,
 * nested mappings, anchors, tags, odd characters, what YAML calls an error)
 * declines the piece, and js-yaml reads it as before. What it takes, it reads
 * into the very tree js-yaml's path would, offsets included: the parsers'
 * differential tests (test/yaml-parsers.test.ts) hold the three together.
 */
export function scanPiece(text: string, from: number, to: number): YamlMap | undefined {
  const piece = text.slice(from, to);
  if (!PRINTABLE_ASCII.test(piece) && ODD_CHARACTER.test(piece)) return undefined;
  const lines = new Lines(text, from, to);
  if (!lines.skipBlank()) return undefined;
  const indent = lines.indent;
  const entries: YamlPair[] = [];
  while (lines.skipBlank()) {
    if (lines.indent !== indent) return undefined;
    const key = scanKey(text, lines.content, lines.end);
    if (!key || !onlyComment(text, key.after, lines.end)) return undefined;
    lines.next();
    const value = scanMapping(text, lines, indent);
    if (!value) return undefined;
    entries.push({ key: key.node, value });
  }
  return entries.length > 0 ? { kind: 'map', start: entries[0]!.key.start, items: entries } : undefined;
}

/** Text that holds none of those for certain: tested first, a third of the cost of their search (4.5 against 13 ms on a 4 MB file). */
const PRINTABLE_ASCII = /^[\n\x20-\x7E]*$/;

/**
 * Characters js-yaml refuses or may read apart from what the text shows
 * (controls, a CR alone, line and paragraph separators, lone surrogates, a
 * byte order mark), and tabs: the piece is left to it, which reports or
 * places them.
 */
const ODD_CHARACTER = /[\t\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F\u2028\u2029\uFEFF\uFFFE\uFFFF]|\r(?!\n)|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?:[^\uD800-\uDBFF]|^)[\uDC00-\uDFFF]/;

const SPACE = 0x20;
const HASH = 0x23;
const COLON = 0x3a;
const DASH = 0x2d;
const COMMA = 0x2c;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const DOUBLE = 0x22;
const SINGLE = 0x27;
const BACKSLASH = 0x5c;
const RETURN = 0x0d;

/** The piece's lines, one at a time: where the current one starts its content, and where it ends (before CR LF). */
class Lines {
  /** Start of the current line. */
  private at: number;
  /** Spaces before the current line's content. */
  indent = 0;
  /** Where the current line's content starts, and where it ends (its line break or CR LF excluded). */
  content = 0;
  end = 0;
  /** Where the next line starts. */
  private following = 0;

  constructor(
    private readonly text: string,
    from: number,
    private readonly to: number,
  ) {
    this.at = from;
    this.measure();
  }

  /** Whether there is a line left; blank and comment lines are passed over first. */
  skipBlank(): boolean {
    while (this.at < this.to && (this.content === this.end || this.text.charCodeAt(this.content) === HASH)) this.next();
    return this.at < this.to;
  }

  next(): void {
    this.at = this.following;
    this.measure();
  }

  private measure(): void {
    const { text } = this;
    if (this.at >= this.to) return;
    let i = this.at;
    while (text.charCodeAt(i) === SPACE) i++;
    const eol = text.indexOf('\n', i);
    const lineEnd = eol === -1 || eol >= this.to ? this.to : eol;
    this.indent = i - this.at;
    this.content = Math.min(i, lineEnd);
    this.end = lineEnd > this.content && text.charCodeAt(lineEnd - 1) === RETURN ? lineEnd - 1 : lineEnd;
    this.following = lineEnd === this.to ? this.to : lineEnd + 1;
  }
}

/**
 * A node's block mapping: the lines after its `id:` indented deeper than
 * `outer`, each `key: value` at one indentation. Undefined when it has none
 * or anything else is there.
 */
function scanMapping(text: string, lines: Lines, outer: number): YamlMap | undefined {
  const pairs: YamlPair[] = [];
  let indent = -1;
  while (lines.skipBlank() && lines.indent > outer) {
    if (indent === -1) indent = lines.indent;
    else if (lines.indent !== indent) return undefined;
    const key = scanKey(text, lines.content, lines.end);
    if (!key) return undefined;
    const at = skipSpaces(text, key.after, lines.end);
    let value: YamlNode | null;
    if (at === lines.end || (text.charCodeAt(at) === HASH && at > key.after)) {
      lines.next();
      const list = scanBlockList(text, lines, indent);
      if (list === undefined) return undefined;
      value = list;
    } else {
      const scanned = scanValue(text, at, lines.end, false);
      if (!scanned || !onlyComment(text, scanned.after, lines.end)) return undefined;
      value = scanned.node;
      lines.next();
    }
    pairs.push({ key: key.node, value });
  }
  return pairs.length > 0 ? { kind: 'map', start: pairs[0]!.key.start, items: pairs } : undefined;
}

/**
 * The value of `key:` with nothing after it: a block list of `- value` lines
 * at the key's indentation or deeper, or null (empty) when the next line is
 * not one. Undefined when the next line is deeper and not a list (a nested
 * mapping or a scalar continued), or the list holds anything but scalars
 * and flow lists.
 */
function scanBlockList(text: string, lines: Lines, keyIndent: number): YamlSeq | null | undefined {
  if (!lines.skipBlank() || lines.indent < keyIndent) return null;
  if (!isItem(text, lines)) return lines.indent === keyIndent ? null : undefined;
  const indent = lines.indent;
  const start = lines.content;
  const items: YamlNode[] = [];
  while (lines.skipBlank() && lines.indent === indent && isItem(text, lines)) {
    const at = skipSpaces(text, lines.content + 1, lines.end);
    const scanned = at === lines.end ? undefined : scanValue(text, at, lines.end, false);
    if (!scanned || !onlyComment(text, scanned.after, lines.end)) return undefined;
    items.push(scanned.node);
    lines.next();
  }
  // A line deeper than the items continues one of them.
  if (lines.skipBlank() && lines.indent > indent) return undefined;
  return { kind: 'seq', start, items };
}

/** Whether the current line is a list item: `-` then a space (an empty item, `-` alone, is declined with the rest). */
function isItem(text: string, lines: Lines): boolean {
  return text.charCodeAt(lines.content) === DASH && text.charCodeAt(lines.content + 1) === SPACE;
}

function skipSpaces(text: string, at: number, end: number): number {
  while (at < end && text.charCodeAt(at) === SPACE) at++;
  return at;
}

/** Whether nothing but spaces, or spaces then a comment, follows `at` on its line. */
function onlyComment(text: string, at: number, end: number): boolean {
  const next = skipSpaces(text, at, end);
  return next === end || (next > at && text.charCodeAt(next) === HASH);
}

/** YAML indicators: a plain scalar cannot start with one (a `-` can, before a character that is not a space). */
const INDICATOR = new Set([...'-?:,[]{}#&*!|>\'"%@`'].map((c) => c.charCodeAt(0)));

/** A mapping key at `at`: plain or quoted, then `:` and a space or the line's end; undefined otherwise. */
function scanKey(text: string, at: number, end: number): { node: YamlScalar; after: number } | undefined {
  const first = text.charCodeAt(at);
  let node: YamlScalar | undefined;
  let colon: number;
  if (first === DOUBLE || first === SINGLE) {
    const quoted = scanQuoted(text, at, end);
    if (!quoted) return undefined;
    node = quoted.node;
    colon = quoted.after;
  } else {
    if (!plainMayStart(text, at, end)) return undefined;
    colon = at;
    while (colon < end) {
      const c = text.charCodeAt(colon);
      if (c === COLON) break;
      // Flow indicators, quotes and comments in a key: left to js-yaml.
      if (c === HASH || c === COMMA || c === OPEN || c === CLOSE || c === 0x7b || c === 0x7d || c === DOUBLE || c === SINGLE) return undefined;
      colon++;
    }
    if (colon === end || text.charCodeAt(colon - 1) === SPACE) return undefined;
    node = plainScalar(text, at, colon);
  }
  if (text.charCodeAt(colon) !== COLON) return undefined;
  const after = colon + 1;
  if (after < end && text.charCodeAt(after) !== SPACE) return undefined;
  // YAML caps an implicit key at 1024 characters (see events.ts MAX_KEY).
  if (colon - at > 1024) return undefined;
  return { node, after };
}

/** Whether a plain scalar may start at `at`: not an indicator, or a `-` before a character that is neither a space nor a flow indicator. */
function plainMayStart(text: string, at: number, end: number): boolean {
  const first = text.charCodeAt(at);
  if (!INDICATOR.has(first)) return at < end;
  if (first !== DASH || at + 1 >= end) return false;
  const second = text.charCodeAt(at + 1);
  return second !== SPACE && second !== COMMA && second !== OPEN && second !== CLOSE && second !== 0x7b && second !== 0x7d;
}

/**
 * A value at `at` (not a space), up to `end`: a quoted scalar, a one-line
 * flow list, or a plain scalar (`inFlow`: an item of a flow list, which
 * ends at `,` or `]`). Where it ends, or undefined when it is none of those
 * the scanner takes.
 */
function scanValue(text: string, at: number, end: number, inFlow: boolean): { node: YamlNode; after: number } | undefined {
  const first = text.charCodeAt(at);
  if (first === DOUBLE || first === SINGLE) return scanQuoted(text, at, end);
  if (first === OPEN && !inFlow) return scanFlowList(text, at, end);
  if (!plainMayStart(text, at, end)) return undefined;
  let stop = at;
  while (stop < end) {
    const c = text.charCodeAt(stop);
    if (c === COLON) {
      // `a: b: c` is an error, and `a:b` in a flow list may be a mapping: both left to js-yaml.
      const next = text.charCodeAt(stop + 1);
      if (inFlow || stop + 1 === end || next === SPACE) return undefined;
    } else if (c === HASH) {
      if (text.charCodeAt(stop - 1) === SPACE) break; // a comment
      if (inFlow) return undefined;
    } else if (inFlow && (c === COMMA || c === CLOSE)) break;
    else if (inFlow && (c === OPEN || c === 0x7b || c === 0x7d || c === DOUBLE || c === SINGLE)) return undefined;
    stop++;
  }
  let last = stop;
  while (text.charCodeAt(last - 1) === SPACE) last--;
  return { node: plainScalar(text, at, last), after: last };
}

function plainScalar(text: string, start: number, end: number): YamlScalar {
  const raw = text.slice(start, end);
  const value = resolvePlain(raw);
  return typeof value === 'number' || typeof value === 'boolean' ? { kind: 'scalar', start, value, written: raw } : { kind: 'scalar', start, value };
}

/** A quoted scalar on one line: `"..."` without escapes, or `'...'` with `''` for a quote. */
function scanQuoted(text: string, at: number, end: number): { node: YamlScalar; after: number } | undefined {
  const quote = text.charCodeAt(at);
  let i = at + 1;
  let doubled = false;
  for (; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === quote) {
      if (quote === SINGLE && text.charCodeAt(i + 1) === SINGLE && i + 1 < end) {
        doubled = true;
        i++;
        continue;
      }
      break;
    }
    if (c === BACKSLASH && quote === DOUBLE) return undefined;
  }
  if (i >= end) return undefined; // open at the line's end: a multi-line scalar
  const inner = text.slice(at + 1, i);
  return { node: { kind: 'scalar', start: at, value: doubled ? inner.replaceAll("''", "'") : inner }, after: i + 1 };
}

/** `[a, "b", c]` on one line, items plain or quoted scalars; `[]` is an empty list. */
function scanFlowList(text: string, at: number, end: number): { node: YamlSeq; after: number } | undefined {
  const items: YamlNode[] = [];
  let i = skipSpaces(text, at + 1, end);
  if (text.charCodeAt(i) === CLOSE && i < end) return { node: { kind: 'seq', start: at, items }, after: i + 1 };
  while (i < end) {
    const item = scanValue(text, i, end, true);
    if (!item) return undefined;
    items.push(item.node);
    i = skipSpaces(text, item.after, end);
    const c = text.charCodeAt(i);
    if (i < end && c === CLOSE) return { node: { kind: 'seq', start: at, items }, after: i + 1 };
    if (i >= end || c !== COMMA) return undefined;
    i = skipSpaces(text, i + 1, end);
    // `[a, ]` ends in an empty item, which js-yaml reads differently from the yaml package.
    if (i >= end || text.charCodeAt(i) === CLOSE || text.charCodeAt(i) === COMMA) return undefined;
  }
  return undefined;
}
