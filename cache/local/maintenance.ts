import { rmSync } from 'node:fs';
import { referencedBlobs, type ActionIndex } from './action-index.js';
import { isDigest, type BlobRef, type Cas } from './cas.js';

export interface CacheStats {
  entries: number;
  blobs: number;
  blobBytes: number;
  tmpFiles: number;
}

export interface VerifyReport {
  blobsChecked: number;
  corruptBlobs: string[];
  entriesChecked: number;
  brokenEntries: string[];
  staleTempFiles: number;
}

export interface GcReport {
  entriesEvicted: number;
  blobsDeleted: number;
  bytesFreed: number;
  bytesAfter: number;
}

/** Older temp files belong to killed processes: no live write takes an hour between chunks. */
const STALE_TEMP_MS = 60 * 60_000;
/**
 * Blobs this young may belong to a build that has stored them but not yet
 * its putAction; putFile/putBuffer refresh the mtime of blobs they reuse.
 */
const GC_GRACE_MS = 10 * 60_000;

const totalBytes = (blobs: BlobRef[]): number => blobs.reduce((sum, b) => sum + b.size, 0);

export function stats(cas: Cas, index: ActionIndex): CacheStats {
  const blobs = cas.listBlobs();
  return {
    entries: index.count(),
    blobs: blobs.length,
    blobBytes: totalBytes(blobs),
    tmpFiles: cas.listTemps().length,
  };
}

/** Rehashes every blob, drops entries that can no longer be restored, and sweeps stale temp files. */
export async function verify(cas: Cas, index: ActionIndex): Promise<VerifyReport> {
  const blobs = cas.listBlobs();
  const corruptBlobs: string[] = [];
  for (const blob of blobs) if (!(await cas.checkBlob(blob.digest))) corruptBlobs.push(blob.digest);

  const entries = index.all();
  const brokenEntries = entries
    .filter(({ entry }) => !referencedBlobs(entry).every((b) => isDigest(b.digest) && cas.hasBlob(b.digest)))
    .map((e) => e.key);
  index.delete(brokenEntries);

  const staleBefore = Date.now() - STALE_TEMP_MS;
  const stale = cas.listTemps().filter((t) => t.mtimeMs < staleBefore);
  for (const t of stale) rmSync(t.path, { force: true, recursive: true });

  return {
    blobsChecked: blobs.length,
    corruptBlobs: corruptBlobs.sort(),
    entriesChecked: entries.length,
    brokenEntries: brokenEntries.sort(),
    staleTempFiles: stale.length,
  };
}

/**
 * Evicts least recently used entries until the blobs the rest reference fit
 * in `maxBytes`, then deletes blobs no remaining entry references.
 */
export function gc(cas: Cas, index: ActionIndex, { maxBytes }: { maxBytes: number }): GcReport {
  const blobs = cas.listBlobs();
  // Sizes as found on disk: a blob shared by many entries counts once, a missing one not at all.
  const diskSize = new Map(blobs.map((b) => [b.digest, b.size]));
  const refCount = new Map<string, number>();
  let referencedBytes = 0;
  const entries = index.all().map((e) => ({ key: e.key, digests: referencedBlobs(e.entry).map((b) => b.digest) }));
  for (const { digests } of entries) {
    for (const d of digests) {
      const n = refCount.get(d) ?? 0;
      if (n === 0) referencedBytes += diskSize.get(d) ?? 0;
      refCount.set(d, n + 1);
    }
  }

  const evicted: string[] = [];
  for (const { key, digests } of entries) {
    if (referencedBytes <= maxBytes) break;
    evicted.push(key);
    for (const d of digests) {
      const n = refCount.get(d)! - 1;
      if (n === 0) referencedBytes -= diskSize.get(d) ?? 0;
      refCount.set(d, n);
    }
  }
  index.delete(evicted);

  const graceBefore = Date.now() - GC_GRACE_MS;
  let blobsDeleted = 0;
  let bytesFreed = 0;
  for (const blob of blobs) {
    if (!refCount.get(blob.digest) && blob.mtimeMs < graceBefore && cas.deleteBlob(blob.digest)) {
      blobsDeleted++;
      bytesFreed += blob.size;
    }
  }
  return { entriesEvicted: evicted.length, blobsDeleted, bytesFreed, bytesAfter: totalBytes(blobs) - bytesFreed };
}

const UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/** '500M', '2G', '10k', '1.5g', '1024' (binary units, optional trailing B) → bytes; undefined for anything else. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)b?$/i.exec(text.trim());
  return m ? Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!) : undefined;
}
