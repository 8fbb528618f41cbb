import type Database from 'better-sqlite3';
import type { NodeSummary, RunSummary } from '../pipeline/summary.js';
import type { NodeTiming } from '../pipeline/timeline.js';

/** An upstream commit a run built (a `git` node's resolution). */
export interface UpstreamHead {
  node: string;
  url: string;
  ref: string;
  commit: string;
}

/** Runs a checkout keeps when kiln.yaml has no `history.keepRuns`: weeks of builds; ~0.25 MB per run of a 1,000-node graph. */
export const DEFAULT_KEEP_RUNS = 200;

/** What a run's history row records beyond its summary. */
export interface RunFacts {
  args: string[];
  exitCode: number;
  /** -j: the lower bound of a run divides total work by it. */
  workers: number;
  upstream: UpstreamHead[];
  timing(id: string): NodeTiming | undefined;
  depsOf(id: string): string[];
}

/** The checkout's run history: one row per build (and per node of it), pruned to the newest runs. */
export class RunHistory {
  constructor(private readonly db: Database.Database) {}

  recordRun(summary: RunSummary, run: RunFacts): number {
    // Unselected nodes are not part of the run: they would swell its skipped count.
    const count = (s: NodeSummary['status']) => summary.nodes.filter((n) => n.status === s && n.error !== 'not selected').length;
    const insertNode = this.db.prepare(
      `INSERT INTO node_runs (run_id, node, rule, key, status, cache, start_ms, duration_ms, lane, bytes, deps, spans, output_digest, error, agent)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    return this.db.transaction(() => {
      const runId = Number(
        this.db
          .prepare(
            `INSERT INTO runs (command, args, started_at, duration_ms, exit_code, workers, upstream, built, cached, failed, skipped)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            summary.command,
            JSON.stringify(run.args),
            Date.parse(summary.startedAt),
            summary.durationMs,
            run.exitCode,
            run.workers,
            JSON.stringify(run.upstream),
            count('built'),
            count('cached'),
            count('failed'),
            count('skipped'),
          ).lastInsertRowid,
      );
      for (const n of summary.nodes) {
        // Nodes outside the selection never ran: their rows would only say "not selected".
        if (n.status === 'skipped' && n.error === 'not selected') continue;
        const t = run.timing(n.id);
        insertNode.run(
          runId, n.id, n.rule, n.key, n.status, n.cache, t?.startMs ?? null, n.durationMs, t?.lane ?? null, t?.bytes ?? 0,
          JSON.stringify(run.depsOf(n.id)), t && t.spans.length > 0 ? JSON.stringify(t.spans) : null, n.outputDigest, n.error, n.agent ?? null,
        );
      }
      return runId;
    })();
  }

  /**
   * Keeps the newest `keepRuns` runs: older runs and their node rows go in
   * one transaction. When nothing is due this only walks the newest
   * `keepRuns` ids of the runs' primary key (~0.1 ms for 1,000), so a no-op
   * build does not pay for retention.
   */
  prune(keepRuns: number): number {
    const newestDoomed = this.db.prepare('SELECT id FROM runs ORDER BY id DESC LIMIT 1 OFFSET ?').pluck().get(keepRuns) as
      | number
      | undefined;
    if (newestDoomed === undefined) return 0;
    return this.db.transaction(() => {
      // Chase rows are the upstream record (DLRN's history) and outlive their run; only their
      // link to per-node rows goes. Their REFERENCES runs(id) would otherwise refuse the delete.
      if (this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'chase'").get()) {
        this.db.prepare('UPDATE chase SET run_id = NULL WHERE run_id <= ?').run(newestDoomed);
      }
      this.db.prepare('DELETE FROM node_runs WHERE run_id <= ?').run(newestDoomed);
      return this.db.prepare('DELETE FROM runs WHERE id <= ?').run(newestDoomed).changes;
    }).immediate(); // it reads before it writes: the write lock first, as the daemon or another build may write meanwhile
  }
}
