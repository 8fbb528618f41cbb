import type Database from 'better-sqlite3';
import { didYouMean, UserError } from '../../diagnostic.js';
import {
  listRuns,
  loadNodeHistory,
  loadNodeRuns,
  nodesInRecentRuns,
  type NodeHistoryRecord,
  type NodeRunRecord,
  type RunRecord,
} from '../../state/run-record.js';
import { parseCommand, positiveInt } from '../args.js';
import { formatBytes, formatMs, formatWhen, truncate } from '../../report/format.js';
import { textTable } from '../../report/text-table.js';
import { openHistoryDb, resolveRun } from '../history-db.js';

const USAGE = `usage: kiln history [RUN] [--last N] [--node ID] [--json]

Builds recorded in this checkout (.kiln/state.db), newest first.

  (no RUN)       the last N runs: when, command, duration, node counts, hit rate
  RUN            one run (its id, or 'last'): every node with its status, cache
                 source, worker lane, start and duration, in the order they started
  --node ID      one node across the last N runs: status, cache source, duration, key
  --last N       how many runs (default 20)
  --json         machine-readable output (format version 1, see README.md)`;

const DEFAULT_LAST = 20;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(
    'history',
    argv,
    { last: { type: 'string' }, node: { type: 'string' }, json: { type: 'boolean' } },
    USAGE,
  );
  if (positionals.length > 1) throw new UserError([{ message: 'history: expects at most one run id', hint: 'kiln history [RUN]' }]);
  const runArg = positionals[0];
  if (runArg !== undefined && (values.node !== undefined || values.last !== undefined)) {
    throw new UserError([{ message: `history: ${values.node !== undefined ? '--node' : '--last'} does not apply to one run`, hint: `kiln history ${runArg}` }]);
  }
  const last = values.last !== undefined ? positiveInt('history', 'last', values.last) : DEFAULT_LAST;
  const db = openHistoryDb(values);
  try {
    const out = (text: string) => process.stdout.write(`${text}\n`);
    const json = (value: object) => out(JSON.stringify({ version: 1, ...value }, null, 2));
    if (runArg !== undefined) {
      const run = resolveRun(db, runArg, 'history');
      const nodes = loadNodeRuns(db!, run.id);
      if (values.json) json({ run: runJson(run), nodes });
      else out(formatRun(run, nodes));
    } else if (values.node !== undefined) {
      const rows = db ? loadNodeHistory(db, values.node, last) : [];
      if (db && rows.length === 0) throw unknownNode(db, values.node);
      if (values.json) json({ node: values.node, runs: rows.map(nodeHistoryJson) });
      else out(rows.length === 0 ? NO_HISTORY : formatNodeHistory(rows));
    } else {
      const runs = db ? listRuns(db, last) : [];
      if (values.json) json({ runs: runs.map(runJson) });
      else out(runs.length === 0 ? NO_HISTORY : formatRuns(runs));
    }
    return 0;
  } finally {
    db?.close();
  }
}

const NO_HISTORY = 'kiln: no builds recorded in this checkout yet';

function unknownNode(db: Database.Database, node: string): UserError {
  const guess = didYouMean(node, nodesInRecentRuns(db, 100));
  return new UserError([
    { message: `history: node '${node}' has no runs in history`, hint: guess ? `did you mean '${guess}'?` : `'kiln history last' lists the nodes of the last run` },
  ]);
}

/** Restored among the nodes that got a verdict: skipped nodes neither hit nor missed. */
function hitRate(r: Pick<RunRecord, 'built' | 'cached' | 'failed'>): number | null {
  const decided = r.built + r.cached + r.failed;
  return decided === 0 ? null : r.cached / decided;
}

const percent = (rate: number | null) => (rate === null ? '-' : `${Math.round(rate * 100)}%`);

function runJson(r: RunRecord) {
  return { ...r, startedAt: new Date(r.startedAt).toISOString(), hitRate: hitRate(r) };
}

function nodeHistoryJson(r: NodeHistoryRecord) {
  const { runId, runStartedAt, ...rest } = r;
  return { runId, startedAt: new Date(runStartedAt).toISOString(), ...rest };
}

/** `compute@60525ac` per upstream head: what a run built, at a glance. */
function upstreamCell(r: RunRecord): string {
  const heads = r.upstream.map((h) => `${h.node}@${h.commit.slice(0, 7)}`);
  return heads.length <= 3 ? heads.join(' ') : `${heads.slice(0, 3).join(' ')} +${heads.length - 3}`;
}

function formatRuns(runs: RunRecord[]): string {
  const header = ['run', 'when', 'command', 'duration', 'built', 'cached', 'failed', 'skipped', 'hits', 'exit', 'upstream'];
  const rows = runs.map((r) => [
    String(r.id),
    formatWhen(r.startedAt),
    truncate(r.args.join(' ') || r.command, 32),
    formatMs(r.durationMs),
    String(r.built),
    String(r.cached),
    String(r.failed),
    String(r.skipped),
    percent(hitRate(r)),
    String(r.exitCode),
    upstreamCell(r),
  ]);
  return leftTable(header, rows);
}

function formatRun(r: RunRecord, nodes: NodeRunRecord[]): string {
  const head = [
    `run ${r.id}: kiln ${r.args.join(' ') || r.command}`,
    `started ${formatWhen(r.startedAt)}, took ${formatMs(r.durationMs)}, exit ${r.exitCode}, ${r.workers} workers: ` +
      `${r.built} built, ${r.cached} cached, ${r.failed} failed, ${r.skipped} skipped (hits ${percent(hitRate(r))})`,
    ...r.upstream.map((h) => `upstream ${h.node}: ${h.commit.slice(0, 10)} (${h.ref || h.url})`),
  ];
  // A build several agents shared says whose run made each node.
  const shared = nodes.some((n) => n.agent !== null);
  const header = ['node', 'status', 'cache', 'lane', 'start', 'duration', 'bytes', ...(shared ? ['agent'] : []), 'error'];
  const rows = nodes.map((n) => [
    n.node,
    n.status,
    n.cache ?? '-',
    n.lane === null ? '-' : String(n.lane),
    n.startMs === null ? '-' : formatMs(n.startMs),
    formatMs(n.durationMs),
    n.bytes > 0 ? formatBytes(n.bytes) : '-',
    ...(shared ? [n.agent ?? '-'] : []),
    n.error ? truncate(n.error.split('\n')[0]!, 60) : '',
  ]);
  return `${head.join('\n')}\n\n${leftTable(header, rows)}`;
}

function formatNodeHistory(rows: NodeHistoryRecord[]): string {
  const header = ['run', 'when', 'status', 'cache', 'duration', 'bytes', 'lane', 'key'];
  return leftTable(
    header,
    rows.map((r) => [
      String(r.runId),
      formatWhen(r.runStartedAt),
      r.status,
      r.cache ?? '-',
      formatMs(r.durationMs),
      r.bytes > 0 ? formatBytes(r.bytes) : '-',
      r.lane === null ? '-' : String(r.lane),
      r.key ? r.key.slice(0, 12) : '-',
    ]),
  );
}

/** Every column left-aligned: these tables mix figures with names and keys. */
function leftTable(header: string[], rows: string[][]): string {
  return textTable(header, rows, 'l'.repeat(header.length)).join('\n');
}
