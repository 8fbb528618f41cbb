import Database from 'better-sqlite3';

/** How often a busy open is tried, and the pause before each retry (20, 40, ... ms: about 2 s in all). */
const ATTEMPTS = 14;
const PAUSE_MS = 20;

/**
 * Opens a SQLite file that several kiln processes share (the cache index, a
 * checkout's state db, the cache server's index) and prepares it:
 * busy_timeout before anything takes a lock, WAL so readers never block the
 * writer, synchronous NORMAL (a crash may lose the last transactions, never
 * corrupt the file), then `prepare` (the schema: its migrations take the
 * write lock first, so processes opening a new file at once take turns).
 * A connection that opens while the last one is closing (it checkpoints and
 * removes the WAL under an exclusive lock) or while another runs recovery
 * gets SQLITE_BUSY at once, without the busy handler (SQLite's WAL notes):
 * four builds sharing one new cache met that once. Opening and preparing
 * are idempotent, so a busy open is tried again, for about two seconds,
 * before the error is the caller's. Once open, a connection is never the
 * one that finds the last other closing.
 */
export function openShared(file: string, prepare: (db: Database.Database) => void): Database.Database {
  for (let attempt = 1; ; attempt++) {
    const db = new Database(file);
    try {
      db.pragma('busy_timeout = 10000');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      prepare(db);
      return db;
    } catch (e) {
      db.close();
      if (!isBusy(e) || attempt === ATTEMPTS) throw e;
      sleepSync(PAUSE_MS * attempt);
    }
  }
}

/** SQLite's lock errors (SQLITE_BUSY and its extended codes). */
function isBusy(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
