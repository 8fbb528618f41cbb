import PQueue from 'p-queue';
import type { ActionEntry } from '../local/action-index.js';
import type { LocalCache } from '../local/store.js';
import type { RemoteSetup } from './config.js';
import { RemoteError, SignatureMismatchError, UntrustedContentError } from './remote.js';

/** Remote cache figures of one build, as the run summary reports them. */
export interface RemoteStats {
  url: string;
  hits: number;
  misses: number;
  uploads: number;
  bytesDown: number;
  bytesUp: number;
  errors: number;
}

/** What a cache session tells the build: warnings, and spans for its timeline. */
export interface CacheObserver {
  warn(message: string): void;
  /** Milliseconds on the build's clock. */
  now(): number;
  /** A span of `node`'s timeline (an upload in one of the upload lanes). */
  span(node: string, kind: 'upload', startMs: number, lane?: number): void;
}

/** Uploads in flight at once: enough to hide latency, few enough not to starve the build. */
const UPLOAD_CONCURRENCY = 4;

/**
 * A remote cache as one build uses it. The first transport failure is
 * reported once and the remote is dropped for the rest of the build, which
 * goes on with the local cache: a slow or dead remote must never cost more
 * than one timeout. Bad content is reported and that node rebuilt.
 */
export class RemoteSession {
  private disabled = false;
  /** Set by the first artifact signed with another key: no upload for the rest of the build. */
  private keyMismatch = false;
  private unusableCount = 0;
  private readonly uploads = new PQueue({ concurrency: UPLOAD_CONCURRENCY });
  /** Upload slots in use, so a trace shows one row per slot. */
  private readonly uploadLanes: boolean[] = new Array<boolean>(UPLOAD_CONCURRENCY).fill(false);
  /** Entries the remote is known to hold, loaded once per build. */
  private known: Set<string> | undefined;
  readonly stats: RemoteStats;

  constructor(
    private readonly setup: RemoteSetup,
    private readonly observer: CacheObserver,
  ) {
    this.stats = { url: setup.cache.description, hits: 0, misses: 0, uploads: 0, bytesDown: 0, bytesUp: 0, errors: 0 };
  }

  async fetch(node: string, key: string, local: LocalCache, aside = false): Promise<ActionEntry | undefined> {
    if (this.disabled) return undefined;
    try {
      const entry = await this.setup.cache.download(key, local);
      // `aside`: not a node's outputs (a traced node's trace list): no hit or miss to count, nothing owed.
      if (aside) return entry;
      if (entry) {
        this.stats.hits++;
        this.remember(key, local);
      } else this.stats.misses++;
      return entry;
    } catch (e) {
      if (e instanceof SignatureMismatchError) {
        this.stats.errors++;
        if (!this.keyMismatch) {
          this.keyMismatch = true;
          this.uploads.clear();
          this.observer.warn(
            `the remote cache's artifacts are not signed with this machine's signing key (${e.message}): none is used and nothing is uploaded over them in this build; check KILN_REMOTE_SIGNING_KEY`,
          );
        }
        return undefined;
      }
      if (e instanceof UntrustedContentError) {
        this.unusable(`${node}: remote cache sent unusable data (${e.message}); rebuilding`);
        return undefined;
      }
      if (!(e instanceof RemoteError)) throw e;
      this.fail(e);
      return undefined;
    } finally {
      this.syncTraffic();
    }
  }

  /**
   * An entry the remote sent proved unusable (bad data, a manifest that
   * fails verification): counted, not a hit; the first is a warning, the
   * rest one line at the end of the build.
   */
  unusable(warning: string, wasHit = false): void {
    this.stats.errors++;
    if (wasHit) this.stats.hits--;
    if (this.unusableCount++ === 0) this.observer.warn(warning);
  }

  /**
   * Queues an upload of a node's entry; never blocks the build. The promise
   * (which never rejects) says whether it reached the remote, for a caller
   * that must know before telling others (a cobuild's result).
   */
  upload(node: string, key: string, entry: ActionEntry, local: LocalCache, aside = false): Promise<boolean> {
    // A client whose signing key does not match the cache's must not overwrite the team's entries with its own.
    if (this.disabled || this.setup.readOnly || this.keyMismatch) return Promise.resolve(false);
    return this.uploads.add(async () => {
      if (this.disabled || this.keyMismatch) return false;
      const lane = this.uploadLanes.indexOf(false);
      this.uploadLanes[lane] = true;
      const start = this.observer.now();
      try {
        await this.setup.cache.upload(key, entry, local);
        if (!aside) {
          this.stats.uploads++;
          this.remember(key, local);
        }
        return true;
      } catch (e) {
        if (e instanceof RemoteError) this.fail(e);
        else {
          // Local trouble (a blob gc'd meanwhile, a full disk): this upload is lost, the build is not.
          this.stats.errors++;
          this.observer.warn(`upload of ${key.slice(0, 12)} failed: ${(e as Error).message}`);
        }
        return false;
      } finally {
        this.uploadLanes[lane] = false;
        this.observer.span(node, 'upload', start, lane);
        this.syncTraffic();
      }
    }).then((done) => done === true, () => false);
  }

  /**
   * Whether a local hit should still be uploaded: the remote has never
   * received it (it was built while the remote was down or read-only).
   */
  owes(key: string, local: LocalCache): boolean {
    if (this.disabled || this.setup.readOnly || this.keyMismatch) return false;
    this.known ??= local.uploadedTo(this.setup.cache.description);
    return !this.known.has(key);
  }

  private remember(key: string, local: LocalCache): void {
    local.markUploaded(this.setup.cache.description, key);
    this.known?.add(key);
  }

  /** Waits for queued uploads: a build's results reach the remote before kiln exits. Says how many more entries were unusable. */
  async drain(): Promise<void> {
    await this.uploads.onIdle();
    if (this.unusableCount > 1) this.observer.warn(`${this.unusableCount - 1} more entries from the remote cache were unusable and rebuilt`);
  }

  private fail(e: RemoteError): void {
    this.stats.errors++;
    if (this.disabled) return;
    this.disabled = true;
    this.uploads.clear();
    this.observer.warn(`remote cache unavailable, continuing with the local cache only: ${e.message}`);
  }

  private syncTraffic(): void {
    this.stats.bytesDown = this.setup.cache.traffic.bytesDown;
    this.stats.bytesUp = this.setup.cache.traffic.bytesUp;
  }
}
