import type Database from 'better-sqlite3';
import type { UpstreamHead } from './history.js';
import type { NodeSummary } from '../pipeline/summary.js';
import type { Span } from '../pipeline/timeline.js';

/** One run as history recorded it: the input of `kiln history`, traces, critical paths and reports. */
export interface RunRecord {
  id: number;
  command: string;
  args: string[];
  /** Epoch milliseconds. */
  startedAt: number;
  durationMs: number;
  exitCode: number;
  workers: number;
  upstream: UpstreamHead[];
  built: number;
  cached: number;
  failed: number;
  skipped: number;
}

export interface NodeRunRecord {
  node: string;
  rule: string;
  key: string | null;
  status: NodeSummary['status'];
  cache: NodeSummary['cache'];
  /** Since the run started; null for nodes that never started (skipped after a failure). */
  startMs: number | null;
  durationMs: number;
  lane: number | null;
  bytes: number;
  deps: string[];
  spans: Span[];
  outputDigest: string | null;
  error: string | null;
  /** In a build several agents shared: whose run made the node's result (see NodeSummary.agent). */
  agent: string | null;
}

type RunRow = Omit<RunRecord, 'args' | 'upstream'> & { args: string; upstream: string };
type NodeRunRow = Omit<NodeRunRecord, 'deps' | 'spans'> & { deps: string; spans: string | null };

const RUN_COLUMNS = `id, command, args, started_at AS startedAt, duration_ms AS durationMs, exit_code AS exitCode,
  workers, upstream, built, cached, failed, skipped`;

function toRun(row: RunRow): RunRecord {
  return { ...row, args: JSON.parse(row.args) as string[], upstream: JSON.parse(row.upstream) as UpstreamHead[] };
}

/** The newest runs first; `command` narrows to e.g. 'build'. */
export function listRuns(db: Database.Database, limit: number, command?: string): RunRecord[] {
  const rows = (
    command === undefined
      ? db.prepare(`SELECT ${RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT ?`).all(limit)
      : db.prepare(`SELECT ${RUN_COLUMNS} FROM runs WHERE command = ? ORDER BY id DESC LIMIT ?`).all(command, limit)
  ) as RunRow[];
  return rows.map(toRun);
}

export function loadRun(db: Database.Database, id: number): RunRecord | undefined {
  const row = db.prepare(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = ?`).get(id) as RunRow | undefined;
  return row && toRun(row);
}

/** Every node row of a run, in the order they started (never-started nodes last). */
export function loadNodeRuns(db: Database.Database, runId: number): NodeRunRecord[] {
  const rows = db
    .prepare(
      `SELECT node, rule, key, status, cache, start_ms AS startMs, duration_ms AS durationMs, lane, bytes, deps, spans,
              output_digest AS outputDigest, error, agent
       FROM node_runs WHERE run_id = ? ORDER BY start_ms IS NULL, start_ms, node`,
    )
    .all(runId) as NodeRunRow[];
  return rows.map((r) => ({ ...r, deps: JSON.parse(r.deps) as string[], spans: r.spans ? (JSON.parse(r.spans) as Span[]) : [] }));
}

/** One node in one run, with when that run started: a row of `kiln history --node`. */
export interface NodeHistoryRecord {
  runId: number;
  /** Epoch milliseconds of the run's start. */
  runStartedAt: number;
  status: NodeSummary['status'];
  cache: NodeSummary['cache'];
  key: string | null;
  durationMs: number;
  bytes: number;
  lane: number | null;
  error: string | null;
  agent: string | null;
}

/**
 * A node's rows across runs, newest first. No index on node: node_runs is
 * keyed (run_id, node), so this walks the newest runs first and stops after
 * `limit` hits, while an index would make every recorded run cost 1,000
 * scattered index writes (measured: 4x slower recording at 300 runs kept).
 */
export function loadNodeHistory(db: Database.Database, node: string, limit: number): NodeHistoryRecord[] {
  return db
    .prepare(
      `SELECT n.run_id AS runId, r.started_at AS runStartedAt, n.status, n.cache, n.key, n.duration_ms AS durationMs,
              n.bytes, n.lane, n.error, n.agent
       FROM node_runs n JOIN runs r ON r.id = n.run_id
       WHERE n.node = ? ORDER BY n.run_id DESC LIMIT ?`,
    )
    .all(node, limit) as NodeHistoryRecord[];
}

/**
 * Node ids of the newest `runs` runs, for did-you-mean hints: a range of the
 * primary key, where all of history (1,000 runs of 1,000 nodes) takes a second.
 */
export function nodesInRecentRuns(db: Database.Database, runs: number): string[] {
  return db
    .prepare('SELECT DISTINCT node FROM node_runs WHERE run_id > (SELECT max(id) FROM runs) - ?')
    .pluck()
    .all(runs) as string[];
}

/** The oldest and newest run ids kept, or undefined when no run is recorded. */
export function runIdRange(db: Database.Database): { first: number; last: number } | undefined {
  const row = db.prepare('SELECT min(id) AS first, max(id) AS last FROM runs').get() as { first: number | null; last: number | null };
  return row.first === null || row.last === null ? undefined : { first: row.first, last: row.last };
}

/** The run of `command` that started at `startedAt` (epoch ms, as its summary says): how a parent process finds its child's run. */
export function runIdAt(db: Database.Database, command: string, startedAt: number): number | undefined {
  return db.prepare('SELECT id FROM runs WHERE command = ? AND started_at = ? ORDER BY id DESC LIMIT 1').pluck().get(command, startedAt) as
    | number
    | undefined;
}
