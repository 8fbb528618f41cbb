import { isMap, isScalar } from './yaml/tree.js';
import type { Entry, SourceFile } from './source.js';
import type { HistoryDecl } from './types.js';
import { DEFAULT_KEEP_RUNS } from '../state/history.js';

const HISTORY_KEYS = ['keepRuns'];

/** The root file's `history:` block: how much run history a checkout keeps. */
export function readHistory(file: SourceFile, e: Entry): HistoryDecl | undefined {
  if (!e.value || !isMap(e.value)) {
    file.report(e.at, 'expected a mapping', 'e.g. `history: {keepRuns: 1000}`');
    return undefined;
  }
  const decl: HistoryDecl = { keepRuns: DEFAULT_KEEP_RUNS, pos: file.pos(e.keyNode) };
  let ok = true;
  for (const f of file.uniqueEntries(e.value)) {
    if (!HISTORY_KEYS.includes(f.key)) {
      file.unknownKey(f, 'history', HISTORY_KEYS);
      ok = false;
      continue;
    }
    const v = isScalar(f.value) ? f.value.value : undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      file.report(f.at, 'expected a number of runs (a positive integer)', 'older runs and their node rows are deleted after each build');
      ok = false;
    } else {
      decl.keepRuns = v;
    }
  }
  return ok ? decl : undefined;
}
