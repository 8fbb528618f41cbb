import fs from 'node:fs';
import path from 'node:path';
import type { ActionEntry } from './local/action-index.js';
import type { BlobRef } from './local/cas.js';
import { collectOutputs, entryOutputDigest, restoreOutputs, UnsafeOutputError, type CollectedOutputs } from './local/outputs.js';
import { CorruptBlobError, LocalCache } from './local/store.js';
import type { RemoteSetup } from './remote/config.js';
import { sha256Hex } from '../engine/keys/hash/sha256.js';
import { RemoteSession, type CacheObserver, type RemoteStats } from './remote/session.js';

/** Traces kept per weak key: the few states (branches, machines) a node's reads are seen in. */
const TRACES_KEPT = 8;

/** Where a weak key's trace list is kept, beside the entries: a key no node's key can equal. */
const traceListKey = (weakKey: string) => sha256Hex(`kiln-trace-list\0${weakKey}`);

/** A trace list as stored: an array of arrays of strings, or nothing usable. */
function parseTraceList(blob: Buffer): string[][] {
  try {
    const list = JSON.parse(blob.toString('utf8')) as unknown;
    if (!Array.isArray(list)) return [];
    return list.filter((t): t is string[] => Array.isArray(t) && t.every((k) => typeof k === 'string')).slice(0, TRACES_KEPT);
  } catch {
    return [];
  }
}

export function dedupeTraces(traces: readonly string[][]): string[][] {
  const seen = new Set<string>();
  return traces.filter((t) => {
    const id = t.join('\n');
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** A node's failure as another agent published it: its error, when (ms since the epoch), and the tail of its log. */
export interface FailureNote {
  message: string;
  at: number;
  log: string;
}

/** The tail of a failed node's log that other agents print. */
const FAILURE_LOG_BYTES = 64 * 1024;

const failureKey = (key: string) => sha256Hex(`kiln-failure\0${key}`);

/** A cache hit: the entry and the tier that had it. */
export interface CacheHit {
  entry: ActionEntry;
  source: 'local' | 'remote';
}

/** What the facade tells the build beyond a session's warnings: timed fetches and restores. */
export interface ActionCacheObserver extends CacheObserver {
  timed<T>(node: string, kind: 'fetch' | 'restore', work: () => Promise<T>): Promise<T>;
}

/**
 * The one place a build asks "outputs for this key?" and says "these are
 * the outputs for this key": the local store first, then the remote (whose
 * entries are verified into the local store before they count), uploads
 * queued in the background and owed ones caught up, entries that turn out
 * unusable forgotten with a warning. The build sees a hit with its source,
 * or a miss, never a tier.
 */
export class ActionCache {
  private opened: LocalCache | undefined;
  private readonly remote: RemoteSession | undefined;

  constructor(
    private readonly dir: string,
    remote: RemoteSetup | undefined,
    private readonly observer: ActionCacheObserver,
  ) {
    this.remote = remote ? new RemoteSession(remote, observer) : undefined;
  }

  /** The local store, opened on first use: a no-op build of stamped nodes never opens it. */
  get local(): LocalCache {
    return (this.opened ??= LocalCache.open(this.dir));
  }

  /** Remote figures for the run summary, when a remote is configured. */
  get remoteStats(): RemoteStats | undefined {
    return this.remote?.stats;
  }

  /** The entry for `key`: local, else (unless `localOnly`, as a dry run asks) remote, recorded locally. */
  async get(node: string, key: string, localOnly = false): Promise<CacheHit | undefined> {
    const local = this.local.getAction(key);
    if (local) return { entry: local, source: 'local' };
    if (localOnly || !this.remote) return undefined;
    const remote = await this.observer.timed(node, 'fetch', () => this.remote!.fetch(node, key, this.local));
    if (!remote) return undefined;
    this.local.putAction(key, remote);
    return { entry: remote, source: 'remote' };
  }

  /**
   * Writes a hit's outputs into the node dir (see restoreOutputs) and reads
   * its log when `withLog` (it is to be replayed). An entry that proves
   * unusable (a corrupt blob, a manifest that would write outside the
   * outputs) is forgotten with a warning: undefined, and the node is built
   * instead.
   */
  async restore(
    node: string,
    key: string,
    hit: CacheHit,
    nodeDir: string,
    declared: readonly string[],
    tmpDir: string,
    createdHere: ReadonlySet<string>,
    withLog: boolean,
  ): Promise<{ log: Buffer | null } | undefined> {
    try {
      // Undeclared outputs this checkout saw kiln create may be replaced whole; others are written over.
      const mayReplace = (root: string) => createdHere.has(root) || !fs.existsSync(path.join(nodeDir, root));
      await this.observer.timed(node, 'restore', () => restoreOutputs(this.local, nodeDir, declared, hit.entry, tmpDir, mayReplace));
      return { log: hit.entry.log && withLog ? await this.local.readBlob(hit.entry.log.digest) : null };
    } catch (e) {
      if (!(e instanceof CorruptBlobError || e instanceof UnsafeOutputError)) throw e;
      this.local.deleteAction(key);
      // A remote entry that fails here was no hit: the session counts it as unusable (one warning per build).
      const warning = `${node}: cache entry unusable (${e.message}); rebuilding`;
      if (hit.source === 'remote' && this.remote) this.remote.unusable(warning, true);
      else this.observer.warn(warning);
      return undefined;
    }
  }

  /** Stores what a node produced in the local store (blobs), before its entry is put. */
  collect(nodeDir: string, declared: string[], lenient: boolean): Promise<CollectedOutputs> {
    return collectOutputs(this.local, nodeDir, declared, lenient);
  }

  putLog(log: Buffer): Promise<BlobRef> {
    return this.local.putBuffer(log);
  }

  readLog(digest: string): Promise<Buffer | null> {
    return this.local.readLog(digest);
  }

  private readonly uploading = new Map<string, Promise<boolean>>();

  /**
   * Several agents may build one key (a cobuild's takeover of a node whose
   * builder died mid-upload): then the first result in the remote cache
   * stands. Set for a cobuild: each upload first asks the remote for the key.
   */
  firstWriterWins = false;

  /** Records a built node's entry locally and queues its upload. */
  put(node: string, key: string, entry: ActionEntry): void {
    this.local.putAction(key, entry);
    if (!this.remote) return;
    this.uploading.set(key, this.firstWriterWins ? this.uploadUnlessPresent(node, key, entry) : this.remote.upload(node, key, entry, this.local));
  }

  /**
   * The upload of a cobuild: skipped when another agent's result is already
   * there, which this agent then checks against its own (a difference means
   * the node's command is not deterministic: one warning, the first result
   * stays). True when the remote holds a result for the key.
   */
  private async uploadUnlessPresent(node: string, key: string, entry: ActionEntry): Promise<boolean> {
    const there = await this.remote!.fetch(node, key, this.local, true);
    if (!there) return this.remote!.upload(node, key, entry, this.local);
    if (there.outputDigest !== entry.outputDigest) {
      this.observer.warn(`${node}: another agent's result for the same key is in the remote cache and its outputs differ from this one's: the first stays (is the command deterministic?)`);
    }
    return true;
  }

  /** Whether the entry put under `key` reached the remote (waits for its queued upload). */
  uploaded(key: string): Promise<boolean> {
    return this.uploading.get(key) ?? Promise.resolve(false);
  }

  /**
   * The traces a traced node ran with under `weakKey` (the key of all it
   * consumes but what it read) on this machine, newest first: each names the
   * paths to observe for a key to look up.
   */
  traces(weakKey: string): string[][] {
    return this.local.traces(weakKey, TRACES_KEPT);
  }

  /**
   * The traces the remote holds for `weakKey`: what other machines (CI, a
   * colleague) ran the node with. A list kept beside the entries, under its
   * own key, read fresh from the remote every time (never from the local
   * store): it only names paths to observe, so a stale or hostile list can
   * cost a miss, never a wrong hit.
   */
  async sharedTraces(node: string, weakKey: string): Promise<string[][]> {
    if (!this.remote) return [];
    const blob = await this.observer.timed(node, 'fetch', () => this.fetchNote(node, traceListKey(weakKey)));
    return blob ? parseTraceList(blob) : [];
  }

  /**
   * Records a trace a traced node ran with, here and (merged with `shared`,
   * newest first) on the remote. Resolves once it is queued; `uploaded`
   * (under the weak key) says when it reached the remote.
   */
  async rememberTrace(node: string, weakKey: string, keys: readonly string[], shared: readonly string[][]): Promise<void> {
    this.local.rememberTrace(weakKey, keys, TRACES_KEPT);
    if (!this.remote) return;
    const list = dedupeTraces([[...keys], ...shared]).slice(0, TRACES_KEPT);
    this.uploading.set(weakKey, (await this.putNote(node, traceListKey(weakKey), list)).uploaded);
  }

  /**
   * Tells the other agents of a sharded build that this node failed here, so
   * those waiting for its result stop waiting and fail it too, with its log:
   * a note beside the entries under a key of its own, with when it failed.
   */
  async publishFailure(node: string, key: string, message: string, log: Buffer | null): Promise<void> {
    if (!this.remote) return;
    const note: FailureNote = { message, at: Date.now(), log: log ? log.subarray(Math.max(0, log.length - FAILURE_LOG_BYTES)).toString('utf8') : '' };
    await this.putNote(node, failureKey(key), note);
  }

  /** The failure another agent published for `key`, if any (see publishFailure). */
  async remoteFailure(node: string, key: string): Promise<FailureNote | undefined> {
    if (!this.remote) return undefined;
    const blob = await this.fetchNote(node, failureKey(key));
    if (!blob) return undefined;
    try {
      const note = JSON.parse(blob.toString('utf8')) as FailureNote;
      return typeof note.message === 'string' && typeof note.at === 'number' && typeof note.log === 'string' ? note : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Queues a note (a trace list, a failure) for the remote, as JSON under a key
   * of its own beside the entries: an entry with no outputs whose log is the
   * note, so it passes every remote's checks as any entry does (signed,
   * verified). Resolves once queued; `uploaded` once it reached the remote.
   */
  private async putNote(node: string, key: string, note: unknown): Promise<{ uploaded: Promise<boolean> }> {
    const ref = await this.local.putBuffer(Buffer.from(JSON.stringify(note)));
    return { uploaded: this.remote!.upload(node, key, { outputs: [], log: ref, durationMs: 0, outputDigest: entryOutputDigest([]) }, this.local, true) };
  }

  /** A note's bytes from the remote (see putNote), or null when it holds none. */
  private async fetchNote(node: string, key: string): Promise<Buffer | null> {
    const entry = await this.remote!.fetch(node, key, this.local, true);
    return entry?.log ? this.local.readLog(entry.log.digest) : null;
  }

  /** Whether the remote lacks a local entry it should have (built while it was down or read-only). */
  owes(key: string): boolean {
    return this.remote?.owes(key, this.local) ?? false;
  }

  /** Uploads a local entry the remote is owed, if any. */
  catchUp(node: string, key: string): void {
    if (!this.owes(key)) return;
    const entry = this.local.getAction(key);
    if (entry) this.remote!.upload(node, key, entry, this.local);
  }

  /** Waits for queued uploads and closes the local store: a build's results reach the remote before kiln exits. */
  async close(): Promise<void> {
    try {
      await this.remote?.drain();
    } finally {
      this.opened?.close();
    }
  }
}
