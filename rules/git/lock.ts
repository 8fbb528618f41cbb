import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { GitRuleError } from './exec.js';
import { isAlive } from '../../engine/pid.js';

/** How long a kiln process waits for another one's fetch of the same mirror (KILN_GIT_LOCK_TIMEOUT, seconds). */
const DEFAULT_TIMEOUT_S = 1200;
/** A lock file still empty after this long was left by a process that died between create and write. */
const EMPTY_GRACE_MS = 5000;
/** A breaker file older than this was left by a process that died while breaking a stale lock. */
const BREAKER_GRACE_MS = 30_000;

interface Holder {
  pid: number;
  host: string;
  since: string;
}

/** Locks already held by this process, so its own nodes queue in memory instead of polling the file. */
const inProcess = new Map<string, Promise<unknown>>();

/**
 * Runs `fn` holding `lockPath`, a file created with O_EXCL that names its
 * holder (pid, host). Other kiln processes poll until it is gone or the
 * timeout passes. A lock whose holder is a dead process on this host is
 * stale and broken (under a second O_EXCL file, so two processes breaking
 * it at once cannot delete each other's fresh lock). Holders on other hosts
 * (a cache on NFS) cannot be checked and are waited for.
 */
export function withLock<T>(lockPath: string, what: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  const before = inProcess.get(lockPath) ?? Promise.resolve();
  const run = before.catch(() => undefined).then(async () => {
    await acquire(lockPath, what, signal);
    try {
      return await fn();
    } finally {
      release(lockPath);
    }
  });
  const settled = run.catch(() => undefined);
  inProcess.set(lockPath, settled);
  void settled.then(() => {
    if (inProcess.get(lockPath) === settled) inProcess.delete(lockPath);
  });
  return run;
}

function timeoutMs(): number {
  const s = Number(process.env.KILN_GIT_LOCK_TIMEOUT);
  return (Number.isFinite(s) && s > 0 ? s : DEFAULT_TIMEOUT_S) * 1000;
}

const me = (): Holder => ({ pid: process.pid, host: os.hostname(), since: new Date().toISOString() });

async function acquire(lockPath: string, what: string, signal: AbortSignal | undefined): Promise<void> {
  const limit = timeoutMs();
  fs.mkdirSync(path.dirname(lockPath), { recursive: true });
  const deadline = Date.now() + limit;
  for (let delay = 20; ; delay = Math.min(delay * 2, 500)) {
    if (signal?.aborted) throw new GitRuleError('cancelled');
    try {
      const fd = fs.openSync(lockPath, 'wx');
      try {
        fs.writeSync(fd, `${JSON.stringify(me())}\n`);
      } finally {
        fs.closeSync(fd);
      }
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const seen = readLock(lockPath);
    if (seen !== undefined && isStale(lockPath, seen)) {
      breakStale(lockPath, seen);
      continue;
    }
    if (Date.now() >= deadline) {
      const holder = parseHolder(seen ?? '');
      const who = holder ? `pid ${holder.pid} on ${holder.host} since ${holder.since}` : 'an unknown process';
      throw new GitRuleError(
        `timed out after ${Math.round(limit / 1000)}s waiting for ${what}, locked by ${who} ` +
          `(if no kiln process is using it, remove ${lockPath})`,
      );
    }
    try {
      await sleep(delay, undefined, signal ? { signal } : {});
    } catch {
      throw new GitRuleError('cancelled');
    }
  }
}

function release(lockPath: string): void {
  // Only our own lock: had it been broken (wrongly) and taken by another process, that one's stays.
  const holder = parseHolder(readLock(lockPath) ?? '');
  if (holder && holder.pid === process.pid && holder.host === os.hostname()) fs.rmSync(lockPath, { force: true });
}

/** The lock file's content, or undefined when it is gone. */
function readLock(lockPath: string): string | undefined {
  try {
    return fs.readFileSync(lockPath, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

function parseHolder(text: string): Holder | undefined {
  try {
    const h = JSON.parse(text) as Partial<Holder>;
    return typeof h.pid === 'number' && typeof h.host === 'string' ? { pid: h.pid, host: h.host, since: String(h.since) } : undefined;
  } catch {
    return undefined;
  }
}

function isStale(lockPath: string, content: string): boolean {
  const holder = parseHolder(content);
  if (!holder) return ageMs(lockPath) > EMPTY_GRACE_MS;
  return holder.host === os.hostname() && !isAlive(holder.pid);
}

function breakStale(lockPath: string, seen: string): void {
  const breaker = `${lockPath}.break`;
  let fd: number;
  try {
    fd = fs.openSync(breaker, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    if (ageMs(breaker) > BREAKER_GRACE_MS) fs.rmSync(breaker, { force: true });
    return; // someone else is breaking it; poll again
  }
  try {
    // Still the same stale content? Then nobody has taken the lock since we looked.
    if (readLock(lockPath) === seen) fs.rmSync(lockPath, { force: true });
  } finally {
    fs.closeSync(fd);
    fs.rmSync(breaker, { force: true });
  }
}

function ageMs(file: string): number {
  try {
    return Date.now() - fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}
