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

/**
 * The cut of `text`'s longest top-level section into pieces of whole
 * entries, or undefined when the file is better parsed whole: no section
 * with enough entries, document markers or directives, tabs in the section,
 * a line indented less than the entries, or an entry line that starts with a
 * YAML indicator (`-`, `?`, `:`, `[`, `&`, ...) rather than a key.
 */
export function planSections(text: string, entriesPerPiece = ENTRIES_PER_PIECE): SectionCut | undefined {
  if (/^(?:---|\.\.\.|%)/m.test(text)) return undefined;
  const longest = longestSection(text);
  if (!longest) return undefined;
  const { keyAt, bodyAt, end } = longest;
  const body = text.slice(bodyAt, end);
  const first = /^( +)[^\s#]/m.exec(body);
  if (!first) return undefined;
  const indent = first[1]!.length;
  if (body.includes('\t')) return undefined;
  if (indent > 1 && new RegExp(`^ {1,${indent - 1}}[^\\s#]`, 'm').test(body)) return undefined;
  if (new RegExp(`^ {${indent}}[-?:,\\[\\]{}&*!|>%@\`]`, 'm').test(body)) return undefined;
  const entry = new RegExp(`^ {${indent}}[^\\s#]`, 'gm');
  const pieces: number[] = [];
  let count = 0;
  // The first entry stays in the frame, which must keep the section's mapping; only it: the frame
  // is read by js-yaml, a few times slower than the piece scanner (500 entries there cost 15 ms).
  for (let m = entry.exec(body); m; m = entry.exec(body)) {
    if (count > 0 && (count - 1) % entriesPerPiece === 0) pieces.push(bodyAt + m.index);
    count++;
  }
  if (pieces.length === 0) return undefined;
  return { keyAt, cutAt: pieces[0]!, resumeAt: end, pieces };
}

/** The top-level `key:` section spanning the most text: where its key line starts, where its body starts and ends. */
function longestSection(text: string): { keyAt: number; bodyAt: number; end: number } | undefined {
  // A line at column 0 that is neither blank nor a comment ends the section before it.
  const topLevel = /^[^\s#].*$/gm;
  const lines: { at: number; line: string }[] = [];
  for (let m = topLevel.exec(text); m; m = topLevel.exec(text)) lines.push({ at: m.index, line: m[0] });
  let best: { keyAt: number; bodyAt: number; end: number } | undefined;
  lines.forEach(({ at, line }, i) => {
    if (!SECTION_KEY.test(line)) return;
    const bodyAt = text.indexOf('\n', at) + 1;
    const end = lines[i + 1]?.at ?? text.length;
    if (bodyAt > 0 && (!best || end - bodyAt > best.end - best.bodyAt)) best = { keyAt: at, bodyAt, end };
  });
  return best;
}
