import type Database from 'better-sqlite3';
import type { Workspace } from '../buildfile/types.js';
import type { RunSummary } from '../pipeline/summary.js';
import { rules } from '../../rules/index.js';
import { ChaseRecord } from './record.js';

/**
 * What a failed plain build tells a trunk chaser, as DLRN would: a failing
 * node under an upstream project whose newest chased commit failed is most
 * likely that commit (a patch that no longer applies), and the last good
 * commit is what `--last-good` builds; nodes a fail-fast build never started
 * are one `-k` away.
 */
export function afterFailureHints(db: Database.Database, ws: Workspace, summary: RunSummary): string[] {
  const hints: string[] = [];
  const record = new ChaseRecord(db);
  for (const node of ws.nodes) {
    if (!rules.get(node.rule)?.upstream) continue;
    const newest = record.newest(node.id);
    if (newest?.status !== 'failed') continue;
    const good = record.lastOk(node.id);
    hints.push(
      `${node.id}'s newest upstream commit ${newest.commit.slice(0, 10)} ("${newest.subject}") failed in kiln chase` +
        (good ? `; kiln build --last-good builds every chased project at its last good commit (${node.id} at ${good.slice(0, 10)})` : ''),
    );
  }
  const notStarted = summary.nodes.filter((n) => n.status === 'skipped' && n.error?.startsWith('not started')).length;
  if (notStarted > 0) hints.push(`${notStarted} node${notStarted > 1 ? 's' : ''} not started after the failure: -k (--keep-going) builds everything that does not depend on it`);
  return hints;
}
