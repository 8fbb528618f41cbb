import type Database from 'better-sqlite3';
import type { UpstreamHead } from './history.js';
import type { NodeSummary } from './summary.js';
import type { Span } from './timeline.js';

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
              output_digest AS outputDigest, error
       FROM node_runs WHERE run_id = ? ORDER BY start_ms IS NULL, start_ms, node`,
    )
    .all(runId) as NodeRunRow[];
  return rows.map((r) => ({ ...r, deps: JSON.parse(r.deps) as string[], spans: r.spans ? (JSON.parse(r.spans) as Span[]) : [] }));
}

/** The run of `command` that started at `startedAt` (epoch ms, as its summary says): how a parent process finds its child's run. */
export function runIdAt(db: Database.Database, command: string, startedAt: number): number | undefined {
  return db.prepare('SELECT id FROM runs WHERE command = ? AND started_at = ? ORDER BY id DESC LIMIT 1').pluck().get(command, startedAt) as
    | number
    | undefined;
}
