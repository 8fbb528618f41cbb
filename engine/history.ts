import type Database from 'better-sqlite3';
import type { Ingredients } from './key.js';
import type { NodeSummary, RunSummary } from './summary.js';

/** What this checkout last knew about a node: its key, and its outputs on disk. */
export interface NodeState {
  key: string;
  outputDigest: string;
  /** Stat stamp of the outputs as kiln left them (see fingerprint.ts). */
  fingerprint: string;
  /** Digest of the stored log blob, null when the node printed nothing. */
  log: string | null;
  durationMs: number;
}

/**
 * Node states and run history of one checkout. Node states are read all at
 * once (one query), written per node as they settle.
 */
export class History {
  // Prepared once: preparing costs far more than running these small statements.
  private readonly saveStmt: Database.Statement;
  private readonly forgetStmt: Database.Statement;

  constructor(private readonly db: Database.Database) {
    this.saveStmt = db.prepare(
      `INSERT OR REPLACE INTO node_state (node, key, ingredients, output_digest, fingerprint, log, duration_ms, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.forgetStmt = db.prepare('DELETE FROM node_state WHERE node = ?');
  }

  /** Every node's state, without ingredients: a build only compares keys. */
  loadNodeStates(): Map<string, NodeState> {
    const rows = this.db
      .prepare('SELECT node, key, output_digest, fingerprint, log, duration_ms FROM node_state')
      .raw()
      .all() as [string, string, string, string, string | null, number][];
    return new Map(
      rows.map(([node, key, outputDigest, fingerprint, log, durationMs]) => [
        node,
        { key, outputDigest, fingerprint, log, durationMs },
      ]),
    );
  }

  /** What the node's last build consumed, for `kiln why`. */
  loadIngredients(node: string): Ingredients | undefined {
    const row = this.db.prepare('SELECT ingredients FROM node_state WHERE node = ?').pluck().get(node) as string | undefined;
    return row === undefined ? undefined : (JSON.parse(row) as Ingredients);
  }

  saveNodeState(node: string, s: NodeState, ingredients: Ingredients): void {
    this.saveStmt.run(node, s.key, JSON.stringify(ingredients), s.outputDigest, s.fingerprint, s.log, s.durationMs, Date.now());
  }

  /** Called before a node's outputs are touched, so a crash mid-way never leaves a trusted stale stamp. */
  forgetNodeState(node: string): void {
    this.forgetStmt.run(node);
  }

  recordRun(summary: RunSummary, args: string[], exitCode: number): number {
    const count = (s: NodeSummary['status']) => summary.nodes.filter((n) => n.status === s).length;
    const insertNode = this.db.prepare(
      `INSERT INTO node_runs (run_id, node, key, status, cache, duration_ms, output_digest, error)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    return this.db.transaction(() => {
      const runId = Number(
        this.db
          .prepare(
            `INSERT INTO runs (command, args, started_at, duration_ms, exit_code, built, cached, failed, skipped)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            summary.command,
            JSON.stringify(args),
            Date.parse(summary.startedAt),
            summary.durationMs,
            exitCode,
            count('built'),
            count('cached'),
            count('failed'),
            count('skipped'),
          ).lastInsertRowid,
      );
      for (const n of summary.nodes) {
        insertNode.run(runId, n.id, n.key, n.status, n.cache, n.durationMs, n.outputDigest, n.error);
      }
      return runId;
    })();
  }
}
