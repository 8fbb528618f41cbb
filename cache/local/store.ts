import { mkdirSync } from 'node:fs';
import { ActionIndex, type ActionEntry } from './action-index.js';
import { Cas } from './cas.js';
import { gc, stats, verify, type CacheStats, type GcReport, type VerifyReport } from './maintenance.js';

export type { ActionEntry, OutputEntry } from './action-index.js';
export { CorruptBlobError, type BlobRef } from './cas.js';
export { parseSize, type CacheStats, type GcReport, type VerifyReport } from './maintenance.js';

/**
 * The local cache: blobs (inherited from Cas) plus the action index in
 * `<dir>/index.db`. Several processes may share one dir and any may die
 * mid-write: blobs appear only by atomic rename, index writes are SQLite
 * transactions, and callers store every blob an entry references before
 * its putAction, so no entry is ever visible before its blobs.
 */
export class LocalCache extends Cas {
  private constructor(
    readonly dir: string,
    private readonly index: ActionIndex,
  ) {
    super(dir);
  }

  static open(dir: string): LocalCache {
    mkdirSync(dir, { recursive: true });
    return new LocalCache(dir, new ActionIndex(dir));
  }

  /** A node's stored log, or null when gc or corruption took it: a lost log is not worth a rebuild. */
  async readLog(digest: string): Promise<Buffer | null> {
    try {
      return await this.readBlob(digest);
    } catch {
      return null;
    }
  }

  getAction(key: string): ActionEntry | undefined {
    return this.index.get(key);
  }

  putAction(key: string, entry: ActionEntry): void {
    this.index.put(key, entry);
  }

  deleteAction(key: string): void {
    this.index.delete([key]);
  }

  /** The traces recorded for a traced node's weak key, newest first (see ActionIndex.traces). */
  traces(weakKey: string, limit: number): string[][] {
    return this.index.traces(weakKey, limit);
  }

  rememberTrace(weakKey: string, keys: readonly string[], keep: number): void {
    this.index.rememberTrace(weakKey, keys, keep);
  }

  /** Keys of the entries a remote (by its description) is known to hold. */
  uploadedTo(remote: string): Set<string> {
    return this.index.uploadedTo(remote);
  }

  markUploaded(remote: string, key: string): void {
    this.index.markUploaded(remote, key);
  }

  /** kiln's digests of what git blobs (`<blob id>:<size>`) check out as, where recorded (see ActionIndex). */
  gitBlobDigests(blobs: readonly string[]): Map<string, string> {
    return this.index.gitBlobDigests(blobs);
  }

  rememberGitBlobs(digests: ReadonlyMap<string, string>): void {
    this.index.rememberGitBlobs(digests);
  }

  stats(): CacheStats {
    return stats(this, this.index);
  }

  verify(): Promise<VerifyReport> {
    return verify(this, this.index);
  }

  gc(options: { maxBytes: number }): GcReport {
    return gc(this, this.index, options);
  }

  close(): void {
    this.index.close();
  }
}
