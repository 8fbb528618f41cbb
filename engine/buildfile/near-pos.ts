import type { SourcePos } from '../diagnostic.js';

/**
 * A position inside a node's declaration other than the node's own (a dep,
 * an input, a use, a key of `fieldPos`). When it is in the node's file, on
 * the node's line or fewer than 16,384 lines below, it is one small
 * integer, (line - the node's line) * 2^16 + column; anything else stays a
 * SourcePos. As objects, a 100,000-node file held 200,000 of them, which
 * the collector copied twice and the memo wrote and read back; as numbers
 * they cost nothing to hold. `positionIn` makes one whole again.
 */
export type NearPos = number | SourcePos;

const COLUMN = 2 ** 16;
const LINES_BELOW = 2 ** 14;

/** The position (file, line, column) near `anchor`, the position of the node it is declared in. */
export function nearPos(file: string, line: number, column: number, anchor: SourcePos): NearPos {
  const lines = line - anchor.line;
  const fits = file === anchor.file && Number.isInteger(lines) && lines >= 0 && lines < LINES_BELOW && Number.isInteger(column) && column >= 0 && column < COLUMN;
  return fits ? lines * COLUMN + column : { file, line, column };
}

/** The whole position of `p`, declared in the node at `anchor`. */
export function positionIn(anchor: SourcePos, p: NearPos): SourcePos {
  if (typeof p !== 'number') return p;
  const column = p % COLUMN;
  return { file: anchor.file, line: anchor.line + (p - column) / COLUMN, column };
}

/** Where key `key` (`dir`, `inputs`, `outputs` or a rule attribute) of a node is written, or where the node is when the key is not. */
export function fieldPosition(node: { pos: SourcePos; fieldPos: Readonly<Record<string, NearPos>> }, key: string): SourcePos {
  const p = Object.hasOwn(node.fieldPos, key) ? node.fieldPos[key] : undefined;
  return p === undefined ? node.pos : positionIn(node.pos, p);
}
