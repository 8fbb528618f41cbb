import type { SourcePos } from '../../diagnostic.js';

/**
 * Where a key of a package.json is written, for diagnostics and node
 * positions: each key of `keys` is searched (as `"key"`) after the previous
 * one. Text search, not a parse: the importer places a thousand nodes and
 * edges this way, and package.json files are plain JSON. When a key is not
 * found, the position of the last one found (or the file's start).
 */
export function jsonKeyPos(file: string, text: string, keys: readonly string[]): SourcePos {
  let offset = 0;
  for (const key of keys) {
    const at = text.indexOf(JSON.stringify(key), offset);
    if (at === -1) break;
    offset = at;
  }
  return offsetPos(file, text, offset);
}

/** 1-based line and column of a character offset. */
export function offsetPos(file: string, text: string, offset: number): SourcePos {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { file, line, column: offset - lineStart + 1 };
}

/** JSON.parse, or the position and message of the syntax error. */
export function parseJson(file: string, text: string): { value: unknown } | { error: string; pos: SourcePos } {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (e) {
    const message = (e as Error).message;
    const at = /at position (\d+)/.exec(message);
    return { error: `invalid JSON: ${message.replace(/ in JSON at position \d+.*$/, '')}`, pos: offsetPos(file, text, at ? Number(at[1]) : 0) };
  }
}
