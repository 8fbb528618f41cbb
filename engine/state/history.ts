import type Database from 'better-sqlite3';
import type { Ingredients } from '../keys/key.js';
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

/** How long batched node-state writes may stay uncommitted. */
const BATCH_MS = 200;

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

/** What this checkout last knew about a node: its key, and its outputs on disk. */
export interface NodeState {
  key: string;
  outputDigest: string;
  /** Stat stamp of the outputs as kiln left them (see keys/stamps.ts). */
  fingerprint: string;
  /** Digest of the stored log blob, null when the node printed nothing. */
  log: string | null;
  durationMs: number;
  /** Stat lines of the inputs as last hashed (hash/inputs.ts); null when they were too fresh to trust. */
  inputStamp: string | null;
  /** Everything but the inputs that the key was made of (up-to-date.ts contextSignature). */
  context: string | null;
  /** Paths the node created without declaring them (write-scan.ts): never its inputs. */
  written: string[];
}

/**
 * Node states and run history of one checkout. Node states are read all at
 * once (one query), written per node as they settle.
 */
export class History {
  // Prepared once: preparing costs far more than running these small statements.
  private readonly saveStmt: Database.Statement;
  private readonly forgetStmt: Database.Statement;
  private readonly restampStmt: Database.Statement;
  private batching = false;
  private batchTimer: NodeJS.Timeout | undefined;

  constructor(private readonly db: Database.Database) {
    this.saveStmt = db.prepare(
      `INSERT OR REPLACE INTO node_state
         (node, key, ingredients, output_digest, fingerprint, log, duration_ms, updated_at, input_stamp, context, written)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.restampStmt = db.prepare('UPDATE node_state SET input_stamp = ?, context = ? WHERE node = ?');
    this.forgetStmt = db.prepare('DELETE FROM node_state WHERE node = ?');
  }

  /** Every node's state, without ingredients: a build only compares keys. */
  loadNodeStates(): Map<string, NodeState> {
    const rows = this.db
      .prepare('SELECT node, key, output_digest, fingerprint, log, duration_ms, input_stamp, context, written FROM node_state')
      .raw()
      .all() as [string, string, string, string, string | null, number, string | null, string | null, string | null][];
    return new Map(
      rows.map(([node, key, outputDigest, fingerprint, log, durationMs, inputStamp, context, written]) => [
        node,
        { key, outputDigest, fingerprint, log, durationMs, inputStamp, context, written: written === null ? [] : (JSON.parse(written) as string[]) },
      ]),
    );
  }

  /** What the node's last build consumed, for `kiln why`. */
  loadIngredients(node: string): Ingredients | undefined {
    const row = this.db.prepare('SELECT ingredients FROM node_state WHERE node = ?').pluck().get(node) as string | undefined;
    return row === undefined ? undefined : (JSON.parse(row) as Ingredients);
  }

  saveNodeState(node: string, s: NodeState, ingredients: Ingredients): void {
    this.write(() =>
      this.saveStmt.run(
        node, s.key, JSON.stringify(ingredients), s.outputDigest, s.fingerprint, s.log, s.durationMs, Date.now(), s.inputStamp, s.context,
        s.written.length > 0 ? JSON.stringify(s.written) : null,
      ),
    );
  }

  /** A node found up to date the slow way: its stamp is renewed so the next build finds it the fast way. */
  restamp(node: string, inputStamp: string | null, context: string): void {
    this.write(() => this.restampStmt.run(inputStamp, context, node));
  }

  /**
   * Called before a node's outputs are touched. Not what keeps a crash safe
   * (a batched forget may be lost with it): a state is trusted only while its
   * output fingerprint matches, and touched outputs have new inodes and
   * ctimes; it keeps a crashed node's stale state from being read at all.
   */
  forgetNodeState(node: string): void {
    this.write(() => this.forgetStmt.run(node));
  }

  /**
   * From now on node-state writes share transactions, committed within
   * BATCH_MS and by commit(): a build of 1,000 nodes otherwise pays two
   * SQLite commits per node. A crash loses at most the last batch, i.e. the
   * next build checks those nodes again.
   */
  batchWrites(): void {
    this.batching = true;
  }

  /** Commits the open batch, if any. */
  commit(): void {
    clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    if (this.db.inTransaction) this.db.exec('COMMIT');
  }

  private write(statement: () => void): void {
    if (this.batching && !this.db.inTransaction) {
      this.db.exec('BEGIN IMMEDIATE'); // the write lock now, waiting like any write: never a busy snapshot mid-batch
      this.batchTimer = setTimeout(() => this.commit(), BATCH_MS).unref();
    }
    statement();
  }

  recordRun(summary: RunSummary, run: RunFacts): number {
    // Unselected nodes are not part of the run: they would swell its skipped count.
    const count = (s: NodeSummary['status']) => summary.nodes.filter((n) => n.status === s && n.error !== 'not selected').length;
    const insertNode = this.db.prepare(
      `INSERT INTO node_runs (run_id, node, rule, key, status, cache, start_ms, duration_ms, lane, bytes, deps, spans, output_digest, error)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
          JSON.stringify(run.depsOf(n.id)), t && t.spans.length > 0 ? JSON.stringify(t.spans) : null, n.outputDigest, n.error,
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
    })();
  }
}
