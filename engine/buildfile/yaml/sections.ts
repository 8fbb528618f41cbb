/**
 * Where a large build file can be parsed in pieces. A generated build file
 * is one long block mapping (`nodes:`) of thousands of entries. Parsed whole,
 * every event of the file is alive at once and the collector copies them
 * all; parsed an entry group at a time, each group's events die young, and
 * the parse takes half the time.
 *
 * A piece is a run of whole entries of that mapping, cut where a line starts
 * a key at the mapping's own indentation. Such a line closes every block
 * construct of the entry before it (a block scalar or a plain scalar of the
 * entry is indented deeper), and a flow collection or quoted scalar left open
 * at a cut makes its piece a syntax error: the caller then parses the file
 * whole. The cut is only taken where the text leaves no doubt (see `plan`);
 * anything else is parsed whole, as before.
 */

import { loneCarriageReturn } from './lines.js';

/** How a file is cut: the frame is the file without the tail of the long section, which the pieces hold in order. */
export interface SectionCut {
  /** Offset of the section's key line (`nodes:`): the frame's root mapping has that key there. */
  keyAt: number;
  /** The frame holds the text up to `cutAt` and again from `resumeAt`; the pieces cover [cutAt, resumeAt). */
  cutAt: number;
  resumeAt: number;
  /** Start offsets of the pieces; each ends where the next starts, the last at `resumeAt`. */
  pieces: number[];
}

/** Entries per piece: small enough that a piece's events stay in the young generation. */
const ENTRIES_PER_PIECE = 500;

/** A top-level key whose value is the block below it: `nodes:`, maybe a comment, nothing else. */
const SECTION_KEY = /^[A-Za-z_][A-Za-z0-9_-]*:[ ]*(?:#.*)?\r?$/;

const SPACE = 0x20;
const HASH = 0x23;
const NEWLINE = 0x0a;
/** Characters a YAML node may start with that no plain key does. */
const INDICATORS = new Set([...'-?:,[]{}&*!|>%@`'].map((c) => c.charCodeAt(0)));

/**
 * The cut of `text`'s longest top-level section into pieces of whole
 * entries, or undefined when the file is better parsed whole: no section
 * with enough entries, document markers or directives, tabs in the section,
 * a line indented less than the entries, or an entry line that starts with a
 * YAML indicator (`-`, `?`, `:`, `[`, `&`, ...) rather than a key. One pass
 * over the lines: six multi-line regular expressions cost a 4 MB file
 * 25 ms and a match object per entry.
 */
export function planSections(text: string, entriesPerPiece = ENTRIES_PER_PIECE): SectionCut | undefined {
  // Line breaks YAML does not make (U+2028, U+2029, a CR alone) would start lines for a reader of
  // lines that YAML reads on: such a file is parsed whole (and one with a CR alone refused, source.ts).
  if (text.includes('\u2028') || text.includes('\u2029') || loneCarriageReturn(text) !== -1) return undefined;
  const longest = longestSection(text);
  if (!longest) return undefined;
  const { keyAt, bodyAt, end } = longest;
  const tab = text.indexOf('\t', bodyAt);
  if (tab !== -1 && tab < end) return undefined;
  let indent = 0;
  const pieces: number[] = [];
  let count = 0;
  for (let at = bodyAt; at < end; at = nextLine(text, at)) {
    let first = at;
    while (text.charCodeAt(first) === SPACE) first++;
    const c = first < text.length ? text.charCodeAt(first) : NEWLINE;
    if (first === at || isBlankOrComment(c)) continue;
    const spaces = first - at;
    indent ||= spaces;
    if (spaces < indent) return undefined;
    if (spaces > indent) continue;
    if (INDICATORS.has(c)) return undefined;
    // The first entry stays in the frame, which must keep the section's mapping; only it: the frame
    // is read by js-yaml, a few times slower than the piece scanner (500 entries there cost 15 ms).
    if (count > 0 && (count - 1) % entriesPerPiece === 0) pieces.push(at);
    count++;
  }
  if (pieces.length === 0) return undefined;
  return { keyAt, cutAt: pieces[0]!, resumeAt: end, pieces };
}

/**
 * The top-level `key:` section spanning the most text: where its key line
 * starts, where its body starts and ends. Undefined when a line starts with
 * a document marker or a directive (`---`, `...`, `%`).
 */
function longestSection(text: string): { keyAt: number; bodyAt: number; end: number } | undefined {
  // A line at column 0 that is neither blank nor a comment ends the section before it.
  const topLevel: number[] = [];
  for (let at = 0; at < text.length; at = nextLine(text, at)) {
    const c = text.charCodeAt(at);
    if (c === 0x25 || ((c === 0x2d || c === 0x2e) && (text.startsWith('---', at) || text.startsWith('...', at)))) return undefined;
    if (!isBlankOrComment(c)) topLevel.push(at);
  }
  let best: { keyAt: number; bodyAt: number; end: number } | undefined;
  topLevel.forEach((at, i) => {
    const lineEnd = text.indexOf('\n', at);
    if (!SECTION_KEY.test(text.slice(at, lineEnd === -1 ? text.length : lineEnd))) return;
    const bodyAt = lineEnd + 1;
    const end = topLevel[i + 1] ?? text.length;
    if (bodyAt > 0 && (!best || end - bodyAt > best.end - best.bodyAt)) best = { keyAt: at, bodyAt, end };
  });
  return best;
}

/** Where the line after the one starting at `at` starts (the text's length after the last). */
function nextLine(text: string, at: number): number {
  const eol = text.indexOf('\n', at);
  return eol === -1 ? text.length : eol + 1;
}

/** Whether a line whose content starts with `c` is blank or a comment: JavaScript's white space (`\s`), a line break or `#`. */
function isBlankOrComment(c: number): boolean {
  return c === HASH || c === SPACE || c === NEWLINE || c === 0x0d || c === 0x09 || c === 0x0b || c === 0x0c || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}
