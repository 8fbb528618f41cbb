import { crypto } from '../../engine/lazy-builtins.js';
import {
  chmodSync, createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync,
} from 'node:fs';
import { mkdir, readFile, rename, rm, utimes } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { sha256Hex } from '../../engine/keys/hash/sha256.js';

/** A stored blob: its sha256 (hex) is also its address. */
export interface BlobRef {
  digest: string;
  size: number;
}

export interface BlobFile extends BlobRef {
  mtimeMs: number;
}

/**
 * A blob cannot be used: it is missing (deleted by another process's gc) or
 * its bytes no longer match its address (disk damage, tampering). Either way
 * the entry that needs it cannot be restored and the node must be rebuilt.
 */
export class CorruptBlobError extends Error {
  constructor(readonly digest: string, detail: string) {
    super(`cache blob ${digest} ${detail}`);
    this.name = 'CorruptBlobError';
  }
}

const DIGEST_RE = /^[0-9a-f]{64}$/;

/** Blobs up to this size are restored from one buffer instead of a stream. */
const SMALL_BLOB_BYTES = 1024 * 1024;

/** The process's umask, read once: a file created with a mode it masks needs a chmod after. */
const UMASK = process.umask();

/**
 * Creates `abs` with `data` and `mode` in one open, write and close (a chmod
 * only where the umask took bits away); false when a file is already there.
 */
function writeNewFile(abs: string, data: Buffer, mode: number): boolean {
  try {
    writeFileSync(abs, data, { mode, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    rmSync(abs, { force: true });
    throw err;
  }
  if ((mode & UMASK) !== 0) chmodSync(abs, mode);
  return true;
}

export function isDigest(value: unknown): value is string {
  return typeof value === 'string' && DIGEST_RE.test(value);
}

/** Unique sibling name, so concurrent writers never share a temp file. */
export function tempName(prefix: string): string {
  return `${prefix}${process.pid}-${crypto().randomBytes(6).toString('hex')}`;
}

/**
 * Copies `source` to `dest` while hashing it. `durable` fsyncs before close:
 * a blob must be on disk before its rename publishes it.
 */
export async function copyHashing(source: Readable, dest: string, durable: boolean): Promise<BlobRef> {
  const hash = crypto().createHash('sha256');
  let size = 0;
  await pipeline(
    source,
    async function* (chunks: AsyncIterable<Buffer>) {
      for await (const chunk of chunks) {
        hash.update(chunk);
        size += chunk.length;
        yield chunk;
      }
    },
    createWriteStream(dest, { flush: durable, mode: 0o644 }),
  );
  return { digest: hash.digest('hex'), size };
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

/** Content-addressed blobs in `<dir>/cas/xx/<digest>`, written via `<dir>/tmp/`. */
export class Cas {
  readonly casDir: string;
  readonly tmpDir: string;

  constructor(dir: string) {
    this.casDir = join(dir, 'cas');
    this.tmpDir = join(dir, 'tmp');
    mkdirSync(this.casDir, { recursive: true });
    mkdirSync(this.tmpDir, { recursive: true });
  }

  /** Throws on anything but a sha256 hex digest, so no digest can name a path outside the store. */
  blobPath(digest: string): string {
    if (!isDigest(digest)) throw new Error(`invalid blob digest ${JSON.stringify(digest)}`);
    return join(this.casDir, digest.slice(0, 2), digest);
  }

  putFile(absPath: string): Promise<BlobRef> {
    return this.ingest(createReadStream(absPath));
  }

  putBuffer(data: Uint8Array): Promise<BlobRef> {
    // Wrapped in an array: Readable.from would iterate a bare Uint8Array byte by byte.
    return this.ingest(Readable.from([Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
  }

  /**
   * Stores a blob that claims to be `expected` (a download from a remote):
   * bytes that hash to anything else are discarded and CorruptBlobError thrown,
   * so an untrusted source can never publish a blob under a wrong address.
   */
  putStream(source: Readable, expected: string): Promise<BlobRef> {
    return this.ingest(source, expected);
  }

  private async ingest(source: Readable, expected?: string): Promise<BlobRef> {
    const tmp = join(this.tmpDir, tempName(''));
    try {
      const ref = await copyHashing(source, tmp, true);
      if (expected !== undefined && ref.digest !== expected) {
        throw new CorruptBlobError(expected, `was received with other content (sha256 ${ref.digest})`);
      }
      const final = this.blobPath(ref.digest);
      try {
        // Already stored: refresh its mtime instead, so a concurrent gc's
        // grace period protects it until our caller's putAction references it.
        const now = new Date();
        await utimes(final, now, now);
        await rm(tmp, { force: true });
      } catch (err) {
        if (!isMissing(err)) throw err;
        await mkdir(dirname(final), { recursive: true });
        await rename(tmp, final);
      }
      return ref;
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  hasBlob(digest: string): boolean {
    return existsSync(this.blobPath(digest));
  }

  async readBlob(digest: string): Promise<Buffer> {
    const path = this.blobPath(digest);
    let data: Buffer;
    try {
      data = await readFile(path);
    } catch (err) {
      throw isMissing(err) ? new CorruptBlobError(digest, 'is missing') : err;
    }
    if (sha256Hex(data) !== digest) this.condemn(digest);
    return data;
  }

  /**
   * Writes the blob to `destAbs` via a temp file in `tmpDir` (which must be on
   * dest's filesystem), so dest is never partial. The temp file lives in a
   * directory the caller owns and cleans, never beside dest: a kill -9
   * mid-copy must not leave debris among the user's files.
   */
  async restoreBlob(digest: string, destAbs: string, mode: number, tmpDir: string): Promise<void> {
    const path = this.blobPath(digest);
    const missing = (err: unknown) => (isMissing(err) && !existsSync(path) ? new CorruptBlobError(digest, 'is missing') : err);
    // Most outputs are small: one read, one hash and one write straight into place beat a stream pipeline
    // several times over, and synchronous calls beat the thread pool's round trips. No temp file: the node's
    // state is forgotten before its restore, so a torn file is never trusted, only restored again.
    let small: boolean;
    try {
      small = statSync(path).size <= SMALL_BLOB_BYTES;
    } catch (err) {
      throw missing(err);
    }
    if (small) {
      let data: Buffer;
      try {
        data = readFileSync(path);
      } catch (err) {
        throw missing(err);
      }
      if (sha256Hex(data) !== digest) this.condemn(digest);
      if (writeNewFile(destAbs, data, mode)) return;
    }
    const tmp = join(tmpDir, tempName(`${basename(destAbs)}.`));
    try {
      const ref = await copyHashing(createReadStream(path), tmp, false);
      if (ref.digest !== digest) this.condemn(digest);
      chmodSync(tmp, mode);
      renameSync(tmp, destAbs);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw missing(err);
    }
  }

  /** Streams a stored blob through sha256; deletes it and returns false if it does not match its name. */
  async checkBlob(digest: string): Promise<boolean> {
    const hash = crypto().createHash('sha256');
    try {
      for await (const chunk of createReadStream(this.blobPath(digest))) hash.update(chunk as Buffer);
    } catch (err) {
      // Deleted by a concurrent gc while we looked: gone is not corrupt.
      if (isMissing(err)) return true;
      throw err;
    }
    if (hash.digest('hex') === digest) return true;
    this.deleteBlob(digest);
    return false;
  }

  private condemn(digest: string): never {
    this.deleteBlob(digest);
    throw new CorruptBlobError(digest, 'does not match its digest and was deleted');
  }

  /** Every blob on disk; names that are not digests (foreign files) are ignored. */
  listBlobs(): BlobFile[] {
    const blobs: BlobFile[] = [];
    for (const shard of readdirSync(this.casDir)) {
      const shardDir = join(this.casDir, shard);
      if (!statSync(shardDir).isDirectory()) continue;
      for (const name of readdirSync(shardDir)) {
        if (!isDigest(name)) continue;
        const st = statSync(join(shardDir, name), { throwIfNoEntry: false });
        // A concurrent gc may delete between readdir and stat.
        if (st) blobs.push({ digest: name, size: st.size, mtimeMs: st.mtimeMs });
      }
    }
    return blobs;
  }

  /** Deletes a blob if it still exists; returns whether it did. */
  deleteBlob(digest: string): boolean {
    try {
      unlinkSync(this.blobPath(digest));
      return true;
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }

  /** Temp files with their mtimes: leftovers of killed processes, or writes in flight. */
  listTemps(): { path: string; mtimeMs: number }[] {
    return readdirSync(this.tmpDir).flatMap((name) => {
      const path = join(this.tmpDir, name);
      const st = statSync(path, { throwIfNoEntry: false });
      return st ? [{ path, mtimeMs: st.mtimeMs }] : [];
    });
  }
}
