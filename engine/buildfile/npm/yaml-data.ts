import type { Diagnostic, SourcePos } from '../../diagnostic.js';
import { located } from '../hint.js';
import { yamlLibrary } from '../yaml/library.js';

/** A YAML file read as plain data, and where a path of keys into it is written. */
export interface YamlData {
  data: unknown;
  /** The position of the value at `keys`, or of the deepest prefix of them that exists (the file's start if none). */
  posOf(keys: readonly string[]): SourcePos;
}

/**
 * Parses a package manager's YAML file (pnpm-workspace.yaml, pnpm-lock.yaml,
 * a yarn berry yarn.lock) into plain data, keeping the document only to
 * locate diagnostics at file:line:column. Syntax errors are reported, each
 * located, and give undefined: the data of a broken file is not trusted.
 */
export function parseYamlData(file: string, text: string, diagnostics: Diagnostic[]): YamlData | undefined {
  const { LineCounter, parseDocument } = yamlLibrary();
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const at = (offset: number): SourcePos => {
    const { line, col } = lines.linePos(offset);
    return { file, line, column: col };
  };
  if (doc.errors.length > 0) {
    for (const e of doc.errors) diagnostics.push(located(at(e.pos[0]), `invalid YAML: ${e.message.split('\n')[0]}`));
    return undefined;
  }
  const posOf = (keys: readonly string[]): SourcePos => {
    for (let n = keys.length; n > 0; n--) {
      const node = doc.getIn(keys.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node?.range) return at(node.range[0]);
    }
    return { file, line: 1, column: 1 };
  };
  return { data: doc.toJS({ maxAliasCount: -1 }) as unknown, posOf };
}

/** A plain object (a YAML mapping or JSON object), for narrowing parsed data. */
export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
