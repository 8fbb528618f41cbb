import fs from 'node:fs';
import type Database from 'better-sqlite3';
import { RACY_MARGIN_MS } from '../stamps.js';
import type { GitIndex } from './git-index.js';
import { xxh64Hex, xxh64Stream } from './xxhash.js';

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
 * Where a file the stat cache does not know may get its digest without
 * being read: git's index names the blob an unchanged checked-out file
 * holds, and the machine's cache remembers what each blob (with its size,
 * which tells apart checkouts through different filters) hashes to.
 */
export interface GitBlobs {
  index: GitIndex;
  /** The recorded digests of these blobs (`<blob id>:<size>`), in one go. */
  digestsOf(blobs: readonly string[]): Map<string, string>;
  remember(digests: ReadonlyMap<string, string>): void;
}

/**
 * Files hashed before git's index is read: reading it and the digests of
 * its blobs costs a few ms per thousand files, which a fresh clone (all
 * misses) repays many times over and a one-file edit never would.
 */
const MISSES_BEFORE_GIT = 32;

/** Lookups answered one row at a time before the whole table is read: an edit's rebuild touches few files. */
const POINT_LOOKUPS = 500;

type Row = [size: number, mtime: number, ino: number, ctime: number, digest: string, recorded: number];

/**
 * path+stat → digest memo, persisted in SQLite. The first lookups read one
 * row each (a one-file edit must not pay for reading 10,000 rows); past
 * POINT_LOOKUPS the whole table is read in one query, far cheaper per file.
 * A no-op build whose nodes all pass their input stamps reads nothing. Only
 * changed rows are written back, in one transaction.
 */
export class StatCache {
  private loaded: Map<string, Entry> | undefined;
  /** Rows read one at a time (undefined: no row), until the table is loaded. */
  private readonly points = new Map<string, Entry | undefined>();
  private pointStmt: Database.Statement | undefined;
  private readonly dirty = new Map<string, Entry>();
  private misses = 0;
  private git: { blobs: GitBlobs; known: Map<string, string> } | undefined;
  /** Blob → digest learnt this build, recorded by flush(). */
  private readonly learnt = new Map<string, string>();
  hashed = 0;
  reused = 0;
  /** Digests named through git's index instead of read. */
  fromGit = 0;

  /** `openGit`: asked once, after MISSES_BEFORE_GIT files the stat cache did not know (a no-op never reads git's index). */
  constructor(
    private readonly db: Database.Database,
    private readonly openGit: () => GitBlobs | undefined = () => undefined,
  ) {}

  private lookup(rel: string): Entry | undefined {
    if (this.loaded) return this.loaded.get(rel);
    if (this.points.has(rel)) return this.points.get(rel);
    if (this.points.size >= POINT_LOOKUPS) return this.loadAll().get(rel);
    this.pointStmt ??= this.db.prepare('SELECT size, mtime, ino, ctime, digest, recorded FROM stat WHERE path = ?').raw();
    const row = this.pointStmt.get(rel) as Row | undefined;
    const entry = row && toEntry(row);
    this.points.set(rel, entry);
    return entry;
  }

  private loadAll(): Map<string, Entry> {
    const rows = this.db.prepare('SELECT path, size, mtime, ino, ctime, digest, recorded FROM stat').raw().all() as [string, ...Row][];
    const all = new Map<string, Entry>();
    for (const [p, ...row] of rows) all.set(p, toEntry(row));
    for (const [p, e] of this.dirty) all.set(p, e); // hashed since the table was last written
    this.loaded = all;
    this.points.clear();
    return all;
  }

  /** Digest of a file whose stat the caller took. `rel` is the workspace-relative path used as the cache key. */
  digest(abs: string, rel: string, st: fs.Stats): string {
    const known = this.lookup(rel);
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
    if (++this.misses === MISSES_BEFORE_GIT) {
      const blobs = this.openGit();
      if (blobs) this.git = { blobs, known: blobs.digestsOf(blobs.index.blobKeys()) };
    }
    const blob = this.git?.blobs.index.blobOf(rel, st);
    let digest = blob ? (this.git!.known.get(blob) ?? this.learnt.get(blob)) : undefined;
    if (digest !== undefined) {
      this.fromGit++;
    } else {
      digest = st.size > STREAM_THRESHOLD ? hashStreamed(abs) : xxh64Hex(fs.readFileSync(abs));
      this.hashed++;
      if (blob) this.learnt.set(blob, digest);
    }
    const entry = { size: st.size, mtime: st.mtimeMs, ino: st.ino, ctime: st.ctimeMs, digest, recorded };
    if (this.loaded) this.loaded.set(rel, entry);
    else this.points.set(rel, entry);
    this.dirty.set(rel, entry);
    return digest;
  }

  /** Writes changed entries back. Safe to call more than once. */
  flush(): void {
    if (this.learnt.size > 0) {
      this.git?.blobs.remember(this.learnt);
      this.learnt.clear();
    }
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

function toEntry([size, mtime, ino, ctime, digest, recorded]: Row): Entry {
  return { size, mtime, ino, ctime, digest, recorded };
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
