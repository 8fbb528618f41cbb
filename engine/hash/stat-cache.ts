import fs from 'node:fs';
import type Database from 'better-sqlite3';
import { xxh64Hex, xxh64Stream } from './xxhash.js';

/**
 * A file whose mtime is this close to (or after) the moment it was hashed may
 * have been written again within the filesystem's timestamp granularity
 * without any stat field changing ("racy" in git's index terms). Such
 * entries are not trusted and the file is hashed again.
 */
export const RACY_MARGIN_MS = 100;
const STREAM_THRESHOLD = 8 * 1024 * 1024;

interface Entry {
  size: number;
  mtime: number;
  ino: number;
  ctime: number;
  digest: string;
  recorded: number;
}

/**
 * path+stat → digest memo, persisted in SQLite. The whole table is read at
 * the first lookup (one query is far cheaper than one per file; a no-op
 * build whose nodes all pass their input stamps never reads it) and only
 * changed rows are written back, in one transaction.
 */
export class StatCache {
  private loaded: Map<string, Entry> | undefined;
  private readonly dirty = new Map<string, Entry>();
  hashed = 0;
  reused = 0;

  constructor(private readonly db: Database.Database) {}

  private get entries(): Map<string, Entry> {
    if (this.loaded) return this.loaded;
    const rows = this.db.prepare('SELECT path, size, mtime, ino, ctime, digest, recorded FROM stat').raw().all() as [
      string, number, number, number, number, string, number,
    ][];
    this.loaded = new Map();
    for (const [p, size, mtime, ino, ctime, digest, recorded] of rows) {
      this.loaded.set(p, { size, mtime, ino, ctime, digest, recorded });
    }
    return this.loaded;
  }

  /** Digest of a file whose stat the caller took. `rel` is the workspace-relative path used as the cache key. */
  digest(abs: string, rel: string, st: fs.Stats): string {
    const known = this.entries.get(rel);
    if (
      known &&
      known.size === st.size &&
      known.mtime === st.mtimeMs &&
      known.ino === st.ino &&
      known.ctime === st.ctimeMs &&
      st.mtimeMs < known.recorded - RACY_MARGIN_MS &&
      st.ctimeMs < known.recorded - RACY_MARGIN_MS
    ) {
      this.reused++;
      return known.digest;
    }
    const recorded = Date.now();
    const digest = st.size > STREAM_THRESHOLD ? hashStreamed(abs) : xxh64Hex(fs.readFileSync(abs));
    this.hashed++;
    const entry = { size: st.size, mtime: st.mtimeMs, ino: st.ino, ctime: st.ctimeMs, digest, recorded };
    this.entries.set(rel, entry);
    this.dirty.set(rel, entry);
    return digest;
  }

  /** Writes changed entries back. Safe to call more than once. */
  flush(): void {
    if (this.dirty.size === 0) return;
    const put = this.db.prepare(
      'INSERT OR REPLACE INTO stat (path, size, mtime, ino, ctime, digest, recorded) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.db.transaction(() => {
      for (const [p, e] of this.dirty) put.run(p, e.size, e.mtime, e.ino, e.ctime, e.digest, e.recorded);
    })();
    this.dirty.clear();
  }
}

function hashStreamed(abs: string): string {
  const h = xxh64Stream();
  const fd = fs.openSync(abs, 'r');
  try {
    const buf = Buffer.allocUnsafe(1024 * 1024);
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest();
}
