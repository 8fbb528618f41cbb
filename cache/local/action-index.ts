import type Database from 'better-sqlite3';
import { join } from 'node:path';
import { isDigest, type BlobRef } from './cas.js';
import { openShared } from '../../engine/state/sqlite.js';

/** One output of a node, relative (posix) to the node's directory. */
export interface OutputEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  executable?: boolean;
  digest?: string;
  size?: number;
  target?: string;
}

/** What a cached action produced: enough to restore its outputs and replay its log. */
export interface ActionEntry {
  outputs: OutputEntry[];
  log: BlobRef | null;
  durationMs: number;
  /**
   * What dependents hash for this node: the manifest's digest, or for an
   * unsealed entry a digest of the key too (see entryOutputDigest).
   */
  outputDigest: string;
  /**
   * The outputs may not hold all the node wrote (it declares none, or wrote
   * outside them), so dependents key on this key, not on these bytes alone.
   */
  unsealed?: true;
  /**
   * Paths (node-dir-relative) the node created without declaring them,
   * cached as its outputs because it declares none: restored like declared
   * outputs, never inputs of the node itself.
   */
  undeclared?: string[];
}

export interface IndexedAction {
  key: string;
  entry: ActionEntry;
  lastAccess: number;
}

const SCHEMA_VERSION = 4;
/** Recording every hit would turn each cached node into a write transaction; a minute is precise enough for LRU. */
const ACCESS_GRANULARITY_MS = 60_000;

/** Blobs an entry needs, each once: what total_size sums, gc counts references to, and verify checks exist. */
export function referencedBlobs(entry: ActionEntry): BlobRef[] {
  const refs = new Map<string, number>();
  for (const o of entry.outputs) if (o.digest) refs.set(o.digest, o.size ?? 0);
  if (entry.log) refs.set(entry.log.digest, entry.log.size);
  return [...refs].map(([digest, size]) => ({ digest, size }));
}

/** The action index: key → ActionEntry in SQLite (WAL), shared by concurrent processes. */
export class ActionIndex {
  private readonly db: Database.Database;
  private readonly selectStmt: Database.Statement<[string], { entry: string; last_access: number }>;
  private readonly touchStmt: Database.Statement<[number, string]>;
  private readonly upsertStmt: Database.Statement<[string, string, number, number, number]>;
  private readonly deleteStmt: Database.Statement<[string]>;

  constructor(dir: string) {
    this.db = openShared(join(dir, 'index.db'), migrate);
    this.selectStmt = this.db.prepare('SELECT entry, last_access FROM actions WHERE key = ?');
    this.touchStmt = this.db.prepare('UPDATE actions SET last_access = ? WHERE key = ?');
    this.upsertStmt = this.db.prepare(
      'INSERT OR REPLACE INTO actions (key, entry, created_at, last_access, total_size) VALUES (?, ?, ?, ?, ?)',
    );
    this.deleteStmt = this.db.prepare('DELETE FROM actions WHERE key = ?');
  }

  get(key: string): ActionEntry | undefined {
    const row = this.selectStmt.get(key);
    if (!row) return undefined;
    const now = Date.now();
    if (now - row.last_access >= ACCESS_GRANULARITY_MS) this.touchStmt.run(now, key);
    return JSON.parse(row.entry) as ActionEntry;
  }

  /** Keys are sha256 hex like blob digests; anything else is a caller bug. */
  put(key: string, entry: ActionEntry): void {
    if (!isDigest(key)) throw new Error(`invalid action key ${JSON.stringify(key)}`);
    const now = Date.now();
    const totalSize = referencedBlobs(entry).reduce((sum, b) => sum + b.size, 0);
    this.upsertStmt.run(key, JSON.stringify(entry), now, now, totalSize);
  }

  delete(keys: string[]): void {
    const forget = this.db.prepare('DELETE FROM uploads WHERE key = ?');
    this.db
      .transaction(() =>
        keys.forEach((k) => {
          this.deleteStmt.run(k);
          forget.run(k);
        }),
      )
      .immediate();
  }

  /** Keys of the entries `remote` is known to hold. */
  uploadedTo(remote: string): Set<string> {
    return new Set(this.db.prepare('SELECT key FROM uploads WHERE remote = ?').pluck().all(remote) as string[]);
  }

  markUploaded(remote: string, key: string): void {
    this.db.prepare('INSERT OR IGNORE INTO uploads (remote, key) VALUES (?, ?)').run(remote, key);
  }

  count(): number {
    return this.db.prepare('SELECT count(*) AS n FROM actions').pluck().get() as number;
  }

  /** All entries, least recently used first. */
  all(): IndexedAction[] {
    const rows = this.db
      .prepare('SELECT key, entry, last_access FROM actions ORDER BY last_access, key')
      .all() as { key: string; entry: string; last_access: number }[];
    return rows.map((r) => ({ key: r.key, entry: JSON.parse(r.entry) as ActionEntry, lastAccess: r.last_access }));
  }

  /** kiln's digests of the files git blobs check out as (`<blob id>:<size>`), where recorded. */
  gitBlobDigests(blobs: readonly string[]): Map<string, string> {
    const found = new Map<string, string>();
    const CHUNK = 500; // under SQLite's bound-parameter limit
    for (let i = 0; i < blobs.length; i += CHUNK) {
      const chunk = blobs.slice(i, i + CHUNK);
      const rows = this.db.prepare(`SELECT blob, digest FROM git_blobs WHERE blob IN (${chunk.map(() => '?').join(',')})`).raw().all(...chunk) as [string, string][];
      for (const [blob, digest] of rows) found.set(blob, digest);
    }
    return found;
  }

  /** Records digests of checked-out git blobs, in one transaction. */
  rememberGitBlobs(digests: ReadonlyMap<string, string>): void {
    const put = this.db.prepare('INSERT OR REPLACE INTO git_blobs (blob, digest) VALUES (?, ?)');
    this.db.transaction(() => {
      for (const [blob, digest] of digests) put.run(blob, digest);
    }).immediate();
  }

  /** The traces recorded for a traced node's weak key (each a sorted list of Observation keys), newest first. */
  traces(weakKey: string, limit: number): string[][] {
    const rows = this.db.prepare('SELECT keys FROM traces WHERE weak_key = ? ORDER BY at DESC LIMIT ?').pluck().all(weakKey, limit) as string[];
    return rows.map((r) => JSON.parse(r) as string[]);
  }

  /** Records a trace a traced node ran with (again: it becomes the newest); only the newest `keep` stay. */
  rememberTrace(weakKey: string, keys: readonly string[], keep: number): void {
    this.db.transaction(() => {
      this.db.prepare('INSERT OR REPLACE INTO traces (weak_key, keys, at) VALUES (?, ?, ?)').run(weakKey, JSON.stringify(keys), Date.now());
      this.db.prepare('DELETE FROM traces WHERE weak_key = ? AND keys NOT IN (SELECT keys FROM traces WHERE weak_key = ? ORDER BY at DESC LIMIT ?)').run(weakKey, weakKey, keep);
    }).immediate();
  }

  close(): void {
    this.db.close();
  }
}

function migrate(db: Database.Database): void {
  // IMMEDIATE takes the write lock up front, so two processes opening a
  // fresh cache serialise here instead of failing on a lock upgrade.
  db
    .transaction(() => {
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) {
        throw new Error(`cache index schema ${version} is newer than this kiln understands (${SCHEMA_VERSION})`);
      }
      if (version < 1) {
        db.exec(`CREATE TABLE actions (
          key TEXT PRIMARY KEY,
          entry TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          last_access INTEGER NOT NULL,
          total_size INTEGER NOT NULL
        )`);
      }
      if (version < 2) {
        // Which entries each remote has received: a build uploads what a remote
        // missed (it was down, or read-only then) instead of never.
        db.exec(`CREATE TABLE uploads (
          remote TEXT NOT NULL,
          key TEXT NOT NULL,
          PRIMARY KEY (remote, key)
        ) WITHOUT ROWID`);
      }
      if (version < 3) {
        // Version 3: git blob (id and size) → kiln's digest of the file git checks it out as, so a fresh
        // clone names its unchanged files' digests from git's index without reading them (keys/hash/git-index.ts).
        db.exec(`CREATE TABLE git_blobs (
          blob TEXT PRIMARY KEY,
          digest TEXT NOT NULL
        ) WITHOUT ROWID`);
      }
      if (version < 4) {
        // Version 4: the traces traced nodes ran with, by the key of everything else they consume: the
        // candidates a build observes again to find an entry (engine/tracing/trace.ts).
        db.exec(`CREATE TABLE traces (
          weak_key TEXT NOT NULL,
          keys TEXT NOT NULL,
          at INTEGER NOT NULL,
          PRIMARY KEY (weak_key, keys)
        ) WITHOUT ROWID`);
      }
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    })
    .immediate();
}
