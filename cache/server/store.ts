import type Database from 'better-sqlite3';
import { mkdirSync, readdirSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { copyHashing, tempName } from '../local/cas.js';
import { isAlive } from '../../engine/pid.js';
import { openShared } from '../../engine/state/sqlite.js';

/**
 * The server's artifacts: files under `<dir>/data/<namespace>/<xx>/<key>`,
 * written via `<dir>/tmp/`, indexed in `<dir>/index.db` (SQLite, WAL) with
 * their size and last access for LRU eviction.
 *
 * One server process owns a dir. Publishing (index row, then rename) and
 * evicting (unlink, then index row) each run synchronously in one tick, so
 * within the process they never interleave. If the process dies between the
 * two steps, an index row is left without its file: it reads as a miss until
 * eviction drops it. Never the reverse: no file escapes the index and its
 * byte count (short of a power loss eating the last committed rows, which
 * synchronous=NORMAL allows).
 */
export class Store {
  private readonly db: Database.Database;
  private readonly dataDir: string;
  private readonly tmpDir: string;
  private readonly stmt: {
    get: Database.Statement<[string, string], { size: number; tag: string | null }>;
    touch: Database.Statement<[number, string, string]>;
    upsert: Database.Statement<[string, string, number, number, string | null]>;
    remove: Database.Statement<[string, string]>;
    oldest: Database.Statement<[number], { namespace: string; key: string; size: number }>;
    totals: Database.Statement<[], StoreTotals>;
  };

  constructor(
    dir: string,
    private readonly maxBytes: number,
  ) {
    this.dataDir = join(dir, 'data');
    this.tmpDir = join(dir, 'tmp');
    mkdirSync(this.dataDir, { recursive: true });
    mkdirSync(this.tmpDir, { recursive: true });
    this.sweepDeadTemps();
    // A crash may lose the last transactions, never corrupt the index; a lost row is a miss.
    this.db = openShared(join(dir, 'index.db'), migrate);
    this.stmt = {
      get: this.db.prepare('SELECT size, tag FROM entries WHERE namespace = ? AND key = ?'),
      touch: this.db.prepare('UPDATE entries SET last_access = ? WHERE namespace = ? AND key = ?'),
      upsert: this.db.prepare(
        `INSERT INTO entries (namespace, key, size, last_access, tag) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (namespace, key) DO UPDATE SET size = excluded.size, last_access = excluded.last_access, tag = excluded.tag`,
      ),
      remove: this.db.prepare('DELETE FROM entries WHERE namespace = ? AND key = ?'),
      oldest: this.db.prepare('SELECT namespace, key, size FROM entries ORDER BY last_access, namespace, key LIMIT ?'),
      totals: this.db.prepare('SELECT entries, bytes FROM totals'),
    };
  }

  /**
   * Opens a stored artifact for reading and marks it used. The open handle
   * stays readable even if the entry is evicted or overwritten meanwhile
   * (the inode lives until closed); the size is the opened file's own.
   */
  async open(namespace: string, key: string): Promise<StoredArtifact | undefined> {
    const row = this.stmt.get.get(namespace, key);
    if (!row) return undefined;
    let handle: FileHandle;
    try {
      handle = await open(this.pathOf(namespace, key), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      const { size } = await handle.stat();
      this.stmt.touch.run(Date.now(), namespace, key);
      return { handle, size, tag: row.tag };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /**
   * Streams `body` into a temp file (hashing, fsync), then publishes it under
   * `key`, replacing any previous artifact (last writer wins), and evicts
   * least recently used entries while the total exceeds the limit. A body
   * stream that fails (client gone, too large) throws; a body whose digest
   * differs from `expectDigest` returns stored: false. Neither leaves a file.
   */
  async put(namespace: string, key: string, body: Readable, options: { expectDigest?: string; tag?: string }): Promise<PutResult> {
    const final = this.pathOf(namespace, key);
    const tmp = join(this.tmpDir, tempName('put-'));
    try {
      const { digest, size } = await copyHashing(body, tmp, true);
      if (options.expectDigest !== undefined && digest !== options.expectDigest) {
        await rm(tmp, { force: true });
        return { stored: false, digest };
      }
      this.stmt.upsert.run(namespace, key, size, Date.now(), options.tag ?? null);
      publish(tmp, final);
      return { stored: true, evicted: this.evictOverLimit() };
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  totals(): StoreTotals {
    return this.stmt.totals.get()!;
  }

  close(): void {
    this.db.close();
  }

  /**
   * Least recently accessed first; the entry just stored is the most recent,
   * so it goes last. File before row: a crash in between leaves a row
   * without a file (a miss), never a file nobody counts.
   */
  private evictOverLimit(): number {
    // IMMEDIATE: it reads the totals before it deletes, and a read snapshot cannot become a write once another writer went first.
    return this.db.transaction(() => {
      let bytes = this.totals().bytes;
      let evicted = 0;
      while (bytes > this.maxBytes) {
        const victims = this.stmt.oldest.all(EVICT_BATCH);
        if (victims.length === 0) break;
        for (const { namespace, key, size } of victims) {
          try {
            unlinkSync(this.pathOf(namespace, key));
          } catch (err) {
            // A row already without its file (see above): dropping the row is all it needs.
            if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          }
          this.stmt.remove.run(namespace, key);
          evicted++;
          bytes -= size;
          if (bytes <= this.maxBytes) break;
        }
      }
      return evicted;
    }).immediate();
  }

  /** Throws on names routes.ts never produces: a namespace or key must not reach outside `data/`. */
  private pathOf(namespace: string, key: string): string {
    const segments = namespace.split('/');
    if (!segments.every((s) => SEGMENT.test(s)) || !KEY.test(key)) {
      throw new Error(`invalid artifact name ${JSON.stringify(`${namespace}/${key}`)}`);
    }
    return join(this.dataDir, ...segments, key.slice(0, 2), key);
  }

  /**
   * Temp files are named `put-<pid>-<random>`: those of processes no longer
   * running (a killed server) are debris. A live pid other than ours may be a
   * reused one; its files wait for the next start.
   */
  private sweepDeadTemps(): void {
    for (const name of readdirSync(this.tmpDir)) {
      const pid = Number(/^put-(\d+)-/.exec(name)?.[1]);
      if (pid === process.pid || !isAlive(pid)) rmSync(join(this.tmpDir, name), { force: true, recursive: true });
    }
  }
}

export interface StoredArtifact {
  /** The caller closes it (a read stream from it with autoClose does). */
  handle: FileHandle;
  size: number;
  tag: string | null;
}

export type PutResult = { stored: true; evicted: number } | { stored: false; digest: string };

export interface StoreTotals {
  entries: number;
  bytes: number;
}

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const KEY = /^[A-Za-z0-9]+$/;
/** Rows fetched per eviction query: most PUTs evict one or two entries. */
const EVICT_BATCH = 16;
const SCHEMA_VERSION = 1;

/** Renames into place; the shard directory is created on first use only, not checked on every PUT. */
function publish(tmp: string, final: string): void {
  try {
    renameSync(tmp, final);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    mkdirSync(dirname(final), { recursive: true });
    renameSync(tmp, final);
  }
}

/** totals is kept by triggers, so the size check after each PUT is one row read, not a scan. */
function migrate(db: Database.Database): void {
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new Error(`cache server index schema ${version} is newer than this kiln understands (${SCHEMA_VERSION})`);
    }
    if (version === SCHEMA_VERSION) return;
    db.exec(`
      CREATE TABLE entries (
        namespace TEXT NOT NULL,
        key TEXT NOT NULL,
        size INTEGER NOT NULL,
        last_access INTEGER NOT NULL,
        tag TEXT,
        PRIMARY KEY (namespace, key)
      ) WITHOUT ROWID;
      CREATE INDEX entries_lru ON entries (last_access);
      CREATE TABLE totals (entries INTEGER NOT NULL, bytes INTEGER NOT NULL);
      INSERT INTO totals VALUES (0, 0);
      CREATE TRIGGER entries_insert AFTER INSERT ON entries
        BEGIN UPDATE totals SET entries = entries + 1, bytes = bytes + NEW.size; END;
      CREATE TRIGGER entries_delete AFTER DELETE ON entries
        BEGIN UPDATE totals SET entries = entries - 1, bytes = bytes - OLD.size; END;
      CREATE TRIGGER entries_resize AFTER UPDATE OF size ON entries
        BEGIN UPDATE totals SET bytes = bytes - OLD.size + NEW.size; END;
    `);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
