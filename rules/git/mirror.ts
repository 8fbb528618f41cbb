import { crypto } from '../../engine/lazy-builtins.js';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { git, gitReason, GitRuleError } from './exec.js';
import { withLock } from './lock.js';
import { mirrorPath } from './location.js';

/** Branches and tags: what the mirror tracks. Other refs (Gerrit changes, pull requests) are fetched by name. */
const REFSPECS = ['+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*'];

/** Failures worth another attempt: the network, not the request. */
const TRANSIENT =
  /could not resolve host|connection (timed out|reset|refused)|operation timed out|timed out|early eof|rpc failed|remote end hung up unexpectedly|returned error: 5\d\d|http 5\d\d|gnutls|ssl_error|tls|temporary failure/i;
const RETRY_DELAYS_MS = [1000, 3000];

/** Mirrors fetched by this process, so nodes sharing a URL fetch it once per build. */
const fetched = new Map<string, Promise<void>>();
/** Refs fetched by name by this process. */
const fetchedRefs = new Map<string, Promise<boolean>>();

export interface MirrorOptions {
  cacheDir: string;
  url: string;
  offline: boolean;
  signal?: AbortSignal;
  /** For messages: the ref being resolved. */
  ref: string;
}

/**
 * Makes sure the mirror of `url` exists and is fresh: created on first use
 * (into a temp dir renamed into place, so a failed or killed clone leaves
 * nothing), fetched with `--prune --tags` once per process otherwise.
 * Offline, it is used as it is and must exist.
 */
export async function ensureMirror(o: MirrorOptions): Promise<string> {
  const dir = mirrorPath(o.cacheDir, o.url);
  if (o.offline) {
    if (!fs.existsSync(path.join(dir, 'HEAD'))) {
      throw new GitRuleError(
        `cannot resolve ref '${o.ref}' of ${o.url}: no mirror of it in the cache yet and --offline forbids fetching (build once online)`,
      );
    }
    return dir;
  }
  let p = fetched.get(dir);
  if (!p) {
    p = withLock(`${dir}.lock`, `the mirror of ${o.url}`, o.signal, () => update(dir, o));
    fetched.set(dir, p);
    p.catch(() => fetched.delete(dir)); // a failure is reported by every node that needs it, not remembered
  }
  try {
    await p;
  } catch (e) {
    // Shared by the nodes using this URL: each names its own ref.
    if (e instanceof FetchError) throw new GitRuleError(`cannot fetch ${o.url} (ref '${o.ref}'): ${e.message}`);
    throw e;
  }
  return dir;
}

/** A failed fetch of the mirror, with git's one-line reason as message. */
class FetchError extends Error {}

async function update(dir: string, o: MirrorOptions): Promise<void> {
  if (fs.existsSync(path.join(dir, 'HEAD'))) {
    await fetchWithRetry(['fetch', '--quiet', '--prune', '--tags', '--no-write-fetch-head', 'origin'], dir, o, ' (--offline builds from the mirror as it is)');
    return;
  }
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  removeDeadClones(dir);
  const tmp = `${dir}.tmp-${process.pid}-${crypto().randomBytes(6).toString('hex')}`;
  try {
    await must(['init', '--quiet', '--bare', tmp], o);
    const config: [string, string][] = [
      ['remote.origin.url', o.url],
      ['remote.origin.tagOpt', '--tags'],
      // gc inside the fetch (under our lock), not detached behind the next process's back.
      ['gc.autoDetach', 'false'],
      ['core.logAllRefUpdates', 'false'],
    ];
    for (const [k, v] of config) await must(['--git-dir', tmp, 'config', k, v], o);
    for (const spec of REFSPECS) await must(['--git-dir', tmp, 'config', '--add', 'remote.origin.fetch', spec], o);
    await fetchWithRetry(['fetch', '--quiet', '--tags', '--no-write-fetch-head', 'origin'], tmp, o);
    fs.renameSync(tmp, dir);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function must(args: string[], o: MirrorOptions): Promise<void> {
  const r = await git(args, o.signal ? { signal: o.signal } : {});
  if (r.code !== 0) throw new GitRuleError(`cannot create the mirror of ${o.url}: ${gitReason(r.stderr)}`);
}

/** Temp clones of processes killed before they could clean up (we hold the lock: no live one is cloning). */
function removeDeadClones(dir: string): void {
  const prefix = `${path.basename(dir)}.tmp-`;
  for (const name of fs.readdirSync(path.dirname(dir))) {
    if (name.startsWith(prefix)) fs.rmSync(path.join(path.dirname(dir), name), { recursive: true, force: true });
  }
}

async function fetchWithRetry(args: string[], gitDir: string, o: MirrorOptions, hint = ''): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const r = await git(['--git-dir', gitDir, ...args], o.signal ? { signal: o.signal } : {});
    if (r.code === 0) return;
    const reason = gitReason(r.stderr);
    const delay = RETRY_DELAYS_MS[attempt];
    if (delay === undefined || !TRANSIENT.test(r.stderr)) {
      throw new FetchError(`${reason}${hint}`);
    }
    await sleep(delay);
  }
}

const HEX = /^[0-9a-f]{4,64}$/i;

/**
 * Resolves `ref` to a commit id in the mirror: a full ref name, a tag, a
 * branch or a (short) commit id, in that order. Refs that the mirror does
 * not track (refs/changes/..., refs/pull/..., a commit no branch or tag
 * reaches) are fetched by name into `refs/kiln/<ns>/...`, which also keeps
 * them for --offline builds. Online, refs other than branches and tags are
 * always fetched again (a pull request's head moves).
 */
export async function resolveRef(
  mirror: string,
  o: MirrorOptions & { namespace: 'fetch' | 'override' },
): Promise<string> {
  const { ref } = o;
  const kept = `refs/kiln/${o.namespace}/${ref.replace(/^refs\//, '')}`;
  const tracked = ref.startsWith('refs/heads/') || ref.startsWith('refs/tags/');
  const candidates = ref.startsWith('refs/')
    ? tracked || o.offline ? [ref] : []
    : [`refs/tags/${ref}`, `refs/heads/${ref}`];
  for (const name of candidates) {
    const c = await peelCommit(mirror, name, o);
    if (c) return c;
  }
  if (HEX.test(ref)) {
    const c = await peelCommit(mirror, ref, o, true);
    if (c) return c;
  }
  if (o.offline) {
    const c = await peelCommit(mirror, kept, o);
    if (c) return c;
    throw new GitRuleError(`cannot resolve ref '${ref}' of ${o.url}: not in the mirror (--offline: not fetched)`);
  }
  if (tracked) throw new GitRuleError(`cannot resolve ref '${ref}' of ${o.url}: no such ref`);
  await fetchByName(mirror, kept, o);
  const c = await peelCommit(mirror, kept, o);
  if (!c) throw new GitRuleError(`cannot resolve ref '${ref}' of ${o.url}: it names no commit`);
  return c;
}

/** The commit `name` peels to in the mirror, or undefined. A short id matching several objects is an error. */
async function peelCommit(mirror: string, name: string, o: MirrorOptions, isId = false): Promise<string | undefined> {
  const r = await git(['--git-dir', mirror, 'rev-parse', '--verify', '--quiet', '--end-of-options', `${name}^{commit}`], o.signal ? { signal: o.signal } : {});
  if (r.code === 0) return r.stdout.toString('utf8').trim();
  if (isId && /ambiguous/i.test(r.stderr)) {
    throw new GitRuleError(`cannot resolve ref '${o.ref}' of ${o.url}: short commit id is ambiguous, give more digits`);
  }
  return undefined;
}

async function fetchByName(mirror: string, kept: string, o: MirrorOptions): Promise<void> {
  const check = await git(['check-ref-format', kept]);
  if (check.code !== 0) throw new GitRuleError(`cannot resolve ref '${o.ref}' of ${o.url}: not a valid ref name`);
  const memo = `${mirror}\0${kept}`;
  let p = fetchedRefs.get(memo);
  if (!p) {
    p = withLock(`${mirror}.lock`, `the mirror of ${o.url}`, o.signal, async () => {
      const r = await git(
        ['--git-dir', mirror, 'fetch', '--quiet', '--no-tags', '--no-write-fetch-head', 'origin', `+${o.ref}:${kept}`],
        o.signal ? { signal: o.signal } : {},
      );
      if (r.code === 0) return true;
      const reason = gitReason(r.stderr);
      if (TRANSIENT.test(r.stderr) || !/couldn't find remote ref|not our ref|no such remote ref|unadvertised object|invalid refspec/i.test(r.stderr)) {
        throw new GitRuleError(`cannot fetch ${o.url} (ref '${o.ref}'): ${reason}`);
      }
      throw new GitRuleError(`cannot resolve ref '${o.ref}' of ${o.url}: no such branch, tag or commit (${reason})`);
    });
    fetchedRefs.set(memo, p);
    p.catch(() => fetchedRefs.delete(memo));
  }
  await p;
}
