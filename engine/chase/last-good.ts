import type Database from 'better-sqlite3';
import type { Workspace } from '../buildfile/types.js';
import { rules } from '../../rules/index.js';
import { ChaseRecord } from './record.js';

/** A chased project pinned to its newest commit that built, and why it matters. */
export interface LastGoodPin {
  project: string;
  commit: string;
  /** The newest chased commit, when it is not the last good one (it failed). */
  newerFailed?: string;
}

/**
 * DLRN's "current" repository for `kiln build --last-good`: every upstream
 * project kiln chase has built, at the newest commit whose build succeeded.
 * Projects without a good chased commit are not pinned (they build their
 * declared ref); explicit `--override`s win over these pins.
 */
export function lastGoodPins(db: Database.Database, ws: Workspace): LastGoodPin[] {
  const record = new ChaseRecord(db);
  const pins: LastGoodPin[] = [];
  for (const node of ws.nodes) {
    if (!rules.get(node.rule)?.upstream) continue;
    const good = record.lastOk(node.id);
    if (!good) continue;
    const newest = record.newest(node.id);
    pins.push({ project: node.id, commit: good, ...(newest && newest.commit !== good ? { newerFailed: newest.commit } : {}) });
  }
  return pins;
}
