import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { UserError } from '../diagnostic.js';
import { loadRun, runIdRange, type RunRecord } from '../state/run-record.js';
import { openStateDb } from '../state/state-db.js';
import { STATE_DIR } from '../state/state-dir.js';
import { resolveWorkspaceSpec } from './args.js';

/**
 * The checkout's state database for a command that only reads history, or
 * undefined when this checkout has never built (nothing to read, and a read
 * should not create .kiln/). Needs only the root build file's location, not a
 * valid build file: history stays readable while kiln.yaml is broken.
 */
export function openHistoryDb(values: { file?: string }): Database.Database | undefined {
  const root = path.dirname(resolveWorkspaceSpec(values).rootFile);
  if (!fs.existsSync(path.join(root, STATE_DIR, 'state.db'))) return undefined;
  return openStateDb(root);
}

/** A run named on the command line: its id, or `last` for the newest. Unknown runs are usage errors (exit 2). */
export function resolveRun(db: Database.Database | undefined, raw: string, command: string): RunRecord {
  const range = db ? runIdRange(db) : undefined;
  if (!db || !range) throw new UserError([{ message: `${command}: no runs recorded in this checkout yet`, hint: 'run kiln build first' }]);
  const id = raw === 'last' ? range.last : Number(raw);
  if (!Number.isInteger(id) || id < 1) {
    throw new UserError([{ message: `${command}: '${raw}' is not a run id`, hint: `a run id is a number (${range.first}-${range.last}) or 'last'` }]);
  }
  const run = loadRun(db, id);
  if (!run) {
    const hint = id < range.first ? 'older runs were pruned (history.keepRuns in kiln.yaml)' : `see 'kiln history'`;
    throw new UserError([{ message: `${command}: no run ${id} (runs ${range.first}-${range.last} are recorded)`, hint }]);
  }
  return run;
}
