import type Database from 'better-sqlite3';
import type { Ingredients } from '../keys/key.js';

/** How long batched node-state writes may stay uncommitted. */
const BATCH_MS = 200;

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

/** A node_state row as `load` selects it. */
type StateRow = [string, string, string, string, string | null, number, string | null, string | null, string | null];

/**
 * What this checkout knows about each node, for the next build: read at the
 * start (all, or those a build of a few targets needs), written per node as
 * it settles, in batched transactions during a build.
 */
export class NodeStates {
  // Prepared once: preparing costs far more than running these small statements.
  private readonly saveStmt: Database.Statement;
  private readonly forgetStmt: Database.Statement;
  private readonly restampStmt: Database.Statement;
  private ingredientsStmt: Database.Statement | undefined;
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

  /**
   * Every node's state, without ingredients: a build only compares keys.
   * With `only`, just those nodes' states, a lookup each: a build of one
   * target in a checkout of 100,000 built nodes reads its few rows, not all.
   */
  load(only?: Iterable<string>): Map<string, NodeState> {
    const select = 'SELECT node, key, output_digest, fingerprint, log, duration_ms, input_stamp, context, written FROM node_state';
    let rows: StateRow[];
    if (only) {
      const one = this.db.prepare(`${select} WHERE node = ?`).raw();
      rows = [];
      for (const id of only) {
        const row = one.get(id) as StateRow | undefined;
        if (row) rows.push(row);
      }
    } else {
      rows = this.db.prepare(select).raw().all() as StateRow[];
    }
    return new Map(
      rows.map(([node, key, outputDigest, fingerprint, log, durationMs, inputStamp, context, written]) => [
        node,
        { key, outputDigest, fingerprint, log, durationMs, inputStamp, context, written: written === null ? [] : (JSON.parse(written) as string[]) },
      ]),
    );
  }

  /** What the node's last build consumed, for `kiln why`. */
  ingredients(node: string): Ingredients | undefined {
    const json = this.ingredientsJson(node);
    return json === undefined ? undefined : (JSON.parse(json) as Ingredients);
  }

  /** The same as stored, unparsed: a restore under the recorded key (knownKey) saves it back as it is. */
  ingredientsJson(node: string): string | undefined {
    this.ingredientsStmt ??= this.db.prepare('SELECT ingredients FROM node_state WHERE node = ?').pluck();
    return this.ingredientsStmt.get(node) as string | undefined;
  }

  /** `ingredients`: the value, or its JSON as ingredientsJson gave it. */
  save(node: string, s: NodeState, ingredients: Ingredients | string): void {
    this.write(() =>
      this.saveStmt.run(
        node, s.key, typeof ingredients === 'string' ? ingredients : JSON.stringify(ingredients), s.outputDigest, s.fingerprint, s.log, s.durationMs, Date.now(), s.inputStamp, s.context,
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
  forget(node: string): void {
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
}
