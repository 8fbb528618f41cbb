import fs from 'node:fs';
import path from 'node:path';

/** Which entries of a watched directory matter: all of them (a walked dir), or some names. */
export type Relevant = 'all' | Set<string>;

/**
 * inotify watches (one per directory, non-recursive) on exactly the
 * directories whose state a proof depends on. Any relevant event makes the
 * set dirty; the owner decides what dirty means. A directory's own moves and
 * deletion always count, and every watched directory's ancestors up to the
 * root are watched for the name leading to it, so renaming a parent is seen.
 */
export class WatchSet {
  private readonly watchers = new Map<string, fs.FSWatcher>();
  private readonly relevant = new Map<string, Relevant>();
  private cookieSeq = 0;
  private readonly cookieWaiters = new Map<string, () => void>();
  private readonly cookieDir: string;
  /** The first relevant change since the last reset, for people (status, decline reasons). */
  dirty: string | null = null;
  /** Every relevant change since the last reset, for attributing them to nodes; null: too many, or not attributable. */
  private events: { dir: string; name: string | null }[] | null = [];

  constructor(private readonly root: string, stateDir: string) {
    // One dir per daemon: a retiring daemon (its .kiln removed, a new one started) removes its own on close,
    // and must not take away the cookies of the daemon that replaced it.
    this.cookieDir = path.join(root, stateDir, 'daemon-cookies', String(process.pid));
    fs.rmSync(this.cookieDir, { recursive: true, force: true });
    fs.mkdirSync(this.cookieDir, { recursive: true });
    this.watchers.set(this.cookieDir, fs.watch(this.cookieDir, (_e, name) => this.onCookie(name)));
  }

  /**
   * Replaces the watched set by `plan` (root-relative dir → relevant names).
   * Watches that stay are kept, so no event between two plans is lost.
   */
  replace(plan: Map<string, Relevant>): void {
    const next = new Map<string, Relevant>();
    const add = (dir: string, names: Relevant) => {
      const have = next.get(dir);
      if (have === 'all' || names === 'all') next.set(dir, 'all');
      else next.set(dir, new Set([...(have ?? []), ...names]));
    };
    for (const [dir, names] of plan) {
      add(dir, names);
      // Ancestors, for the name leading down to this dir.
      for (const [parent, child] of ancestors(dir)) add(parent, new Set([child]));
    }
    for (const [dir, w] of this.watchers) {
      if (dir !== this.cookieDir && !next.has(this.rel(dir))) {
        w.close();
        this.watchers.delete(dir);
      }
    }
    this.relevant.clear();
    for (const [dir, names] of next) {
      this.relevant.set(dir, names);
      const abs = path.join(this.root, dir);
      if (this.watchers.has(abs)) continue;
      try {
        const w = fs.watch(abs, { persistent: false }, (_event, name) => this.onEvent(dir, name));
        w.on('error', () => this.markDirty(`watch on '${dir || '.'}' failed`));
        this.watchers.set(abs, w);
      } catch {
        // A directory that is gone: the proof that needed it cannot hold.
        this.markDirty(`'${dir || '.'}' cannot be watched`);
      }
    }
  }

  get size(): number {
    return this.watchers.size - 1;
  }

  /**
   * Resolves once every change made before the call has been delivered:
   * inotify queues events in order on one descriptor, so seeing our own
   * cookie file appear means all earlier events were read (watchman's method).
   */
  sync(timeoutMs = 2000): Promise<boolean> {
    const name = `cookie-${process.pid}-${++this.cookieSeq}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.cookieWaiters.delete(name);
        resolve(false);
      }, timeoutMs);
      this.cookieWaiters.set(name, () => {
        clearTimeout(timer);
        resolve(true);
      });
      try {
        fs.writeFileSync(path.join(this.cookieDir, name), '');
      } catch {
        clearTimeout(timer); // the state dir is gone: nothing can be vouched for
        this.cookieWaiters.delete(name);
        resolve(false);
      }
    });
  }

  close(): void {
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    fs.rmSync(this.cookieDir, { recursive: true, force: true });
  }

  private onCookie(name: string | Buffer | null): void {
    const n = name?.toString();
    const waiter = n ? this.cookieWaiters.get(n) : undefined;
    if (!waiter || !n) return;
    this.cookieWaiters.delete(n);
    fs.rmSync(path.join(this.cookieDir, n), { force: true });
    waiter();
  }

  private onEvent(dir: string, name: string | Buffer | null): void {
    const names = this.relevant.get(dir);
    const n = name?.toString();
    // No name, or the directory's own name (its move or deletion): always relevant.
    if (names === undefined || names === 'all' || !n || n === path.posix.basename(dir) || names.has(n)) {
      this.dirty ??= `${dir === '' ? '' : `${dir}/`}${n ?? ''} changed`;
      if (this.events && this.events.push({ dir, name: n ?? null }) > MAX_EVENTS) this.events = null;
    }
  }

  /** A failure that no single directory explains: everything counts as changed. */
  private markDirty(why: string): void {
    this.dirty ??= why;
    this.events = null;
  }

  /** The relevant changes since the last reset; null when they cannot be attributed (too many, or a watch failed). */
  changes(): readonly { dir: string; name: string | null }[] | null {
    return this.events;
  }

  /** Forgets the changes seen so far (call after sync(), before re-proving). */
  reset(): void {
    this.dirty = null;
    this.events = [];
  }

  private rel(abs: string): string {
    return path.relative(this.root, abs).split(path.sep).join('/');
  }
}

/** Past this many changes, telling which nodes they touch is not worth it: all count as touched. */
const MAX_EVENTS = 10_000;

/**
 * Each ancestor of a root-relative posix dir up to the root (''), with the
 * name of the entry in it that leads down to `dir`.
 */
export function ancestors(dir: string): [parent: string, child: string][] {
  const out: [string, string][] = [];
  for (let child = dir, parent = parentOf(dir); parent !== null; child = parent, parent = parentOf(parent)) {
    out.push([parent, path.posix.basename(child)]);
  }
  return out;
}

/** Root-relative posix parent; '' is the root, whose parent is null. */
function parentOf(dir: string): string | null {
  if (dir === '') return null;
  const i = dir.lastIndexOf('/');
  return i < 0 ? '' : dir.slice(0, i);
}
