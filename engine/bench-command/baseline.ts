import fs from 'node:fs';
import path from 'node:path';
import { didYouMean, UserError } from '../diagnostic.js';
import type { BenchRecord } from './record.js';
import type { BenchResult } from './result.js';

/**
 * The baseline of `--compare REF`: a JSON file written by `kiln bench
 * --json` (what CI keeps as an artifact), a bench id, or a saved name.
 */
export function loadBaseline(ref: string, record: BenchRecord, cwd: string): BenchResult {
  const file = path.resolve(cwd, ref);
  if (fs.statSync(file, { throwIfNoEntry: false })?.isFile()) return readBaselineFile(file, ref);
  const found = /^\d+$/.test(ref) ? record.load({ id: Number(ref) }) : record.load({ name: ref });
  if (found) return found;
  const names = record.names();
  const guess = didYouMean(ref, names);
  throw new UserError([
    {
      message: `bench: --compare '${ref}' is no bench id, saved name or file`,
      hint: guess
        ? `did you mean '${guess}'?`
        : names.length > 0
          ? `saved names: ${names.join(', ')} (kiln bench --list shows ids)`
          : 'save one with kiln bench --save NAME, or write one with kiln bench --json > FILE',
    },
  ]);
}

function readBaselineFile(file: string, ref: string): BenchResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError([{ message: `bench: --compare ${ref}: not JSON (${(e as Error).message})` }]);
  }
  const problem = shapeProblem(parsed);
  if (problem) {
    throw new UserError([{ message: `bench: --compare ${ref}: not a kiln bench result: ${problem}`, hint: 'write one with kiln bench --json > FILE' }]);
  }
  return parsed as BenchResult;
}

/** What is wrong with a parsed baseline file, checking what comparing reads. */
function shapeProblem(v: unknown): string | undefined {
  const o = v as Partial<BenchResult> | null;
  if (typeof o !== 'object' || o === null) return 'not an object';
  if (o.version !== 1) return `format version ${JSON.stringify(o.version)}, expected 1`;
  if (!Array.isArray(o.scenarios)) return 'no scenarios';
  if (typeof o.host !== 'object' || o.host === null) return 'no host';
  for (const [i, s] of o.scenarios.entries()) {
    if (typeof s?.name !== 'string' || typeof s.kind !== 'string' || typeof s.medianMs !== 'number') {
      return `scenarios[${i}] needs a name, a kind and a medianMs`;
    }
  }
  return undefined;
}
