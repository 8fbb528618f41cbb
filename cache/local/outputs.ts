import { lstat, readdir, readlink } from 'node:fs/promises';
import { mkdirSync, readdirSync, rmSync, symlinkSync, type Dirent, type Stats } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import PQueue from 'p-queue';
import { canonicalJson } from '../../engine/keys/hash/canonical.js';
import { sha256Hex } from '../../engine/keys/hash/sha256.js';
import type { ActionEntry, OutputEntry } from './action-index.js';
import { isDigest } from './cas.js';
import { isGlob, NO_PRODUCT_DIRS, OutputSpec } from './output-spec.js';
import type { LocalCache } from './store.js';
import { pushAll } from '../../engine/arrays.js';

/** A manifest (or declared output list) that would write outside its node's outputs. */
export class UnsafeOutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeOutputError';
  }
}

/**
 * What collectOutputs found. `missing` names the plain outputs that are
 * absent and the globs that matched nothing: a failure unless collected
 * leniently (npm scripts, as turbo: a warning).
 */
export type CollectedOutputs =
  | { ok: true; entry: Omit<ActionEntry, 'log' | 'durationMs'>; missing: string[] }
  | { ok: false; missing: string[] };

/** Blob copies run concurrently (each stored one ends in an fsync), bounded to stay clear of fd limits. */
async function eachBounded<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  await new PQueue({ concurrency: 8 }).addAll(items.map((item) => () => fn(item)));
}

const byPath = (a: OutputEntry, b: OutputEntry): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/**
 * Digest of what the outputs are, not where or when they were made (no size
 * or mtime: size follows from digest), so identical bytes give identical
 * digests and dependants can stop rebuilding (early cutoff).
 */
export function manifestDigest(outputs: OutputEntry[]): string {
  const essence = [...outputs].sort(byPath).map((o) => ({
    path: o.path,
    type: o.type,
    executable: o.type === 'file' ? o.executable === true : undefined,
    digest: o.digest,
    target: o.target,
  }));
  return sha256Hex(canonicalJson(essence));
}

/**
 * The digest dependents hash for an entry. For an unsealed entry (outputs
 * that may not hold all the node wrote: it declares none, or wrote outside
 * them) it covers the key the entry was built under as well, so a dependent
 * is never restored from a build that saw other dependency content: no
 * early cutoff there, as turbo (which always hashes dependency task hashes).
 */
export function entryOutputDigest(outputs: OutputEntry[], unsealedKey?: string): string {
  const manifest = manifestDigest(outputs);
  return unsealedKey === undefined ? manifest : sha256Hex(canonicalJson(['kiln-unsealed', unsealedKey, manifest]));
}

/**
 * Stores every declared output in the CAS and describes them: plain paths
 * recursively, globs by what they match under their static bases (a
 * directory only where the glob matches it). `lenient`: missing outputs
 * are reported, not a failure.
 */
export async function collectOutputs(
  cache: Pick<LocalCache, 'putFile'>,
  nodeDirAbs: string,
  declared: string[],
  lenient = false,
): Promise<CollectedOutputs> {
  const spec = outputSpec(declared);
  const found = new Map<string, OutputEntry>();
  const missing: string[] = [];

  const walk = async (rel: string, st: Stats, take: (rel: string) => boolean): Promise<void> => {
    const abs = join(nodeDirAbs, rel);
    const taken = take(rel);
    if (st.isSymbolicLink()) {
      if (taken) found.set(rel, { path: rel, type: 'symlink', target: await readlink(abs) });
    } else if (st.isFile()) {
      if (taken) found.set(rel, { path: rel, type: 'file', executable: (st.mode & 0o111) !== 0 });
    } else if (st.isDirectory()) {
      // Every directory taken gets an entry, so empty ones survive a restore.
      if (taken) found.set(rel, { path: rel, type: 'dir' });
      for (const name of await readdir(abs)) {
        const child = rel === '' ? name : `${rel}/${name}`;
        if (!NO_PRODUCT_DIRS.has(name)) await walk(child, await lstat(join(abs, name)), take);
      }
    } else if (taken) {
      throw new Error(`output ${rel} is not a file, directory or symlink`);
    }
  };
  const lstatOrUndefined = (rel: string) =>
    lstat(join(nodeDirAbs, rel)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined;
      throw err;
    });

  for (const root of spec.plain) {
    const st = await lstatOrUndefined(root);
    if (st) await walk(root, st, () => true);
    else missing.push(root);
  }
  const before = found.size;
  for (const base of spec.globBases) {
    const st = await lstatOrUndefined(base);
    if (st) await walk(base, st, (rel) => !found.has(rel) && spec.matches(rel));
  }
  if (spec.globBases.length > 0 && found.size === before) pushAll(missing, declared.filter((d) => isGlob(d) && !d.startsWith('!')));
  if (missing.length > 0 && !lenient) return { ok: false, missing };

  const outputs = [...found.values()].sort(byPath);
  await eachBounded(
    outputs.filter((o) => o.type === 'file'),
    async (o) => {
      const ref = await cache.putFile(join(nodeDirAbs, o.path));
      o.digest = ref.digest;
      o.size = ref.size;
    },
  );
  // Refuse now what restoreOutputs would refuse later, rather than cache an entry no one can restore.
  validateManifest(outputs, spec);
  return { ok: true, entry: { outputs, outputDigest: entryOutputDigest(outputs) }, missing };
}

/**
 * Replaces the declared outputs under `nodeDirAbs` with those of `entry`,
 * and writes its undeclared ones. The entry may come from a remote cache,
 * so all of it is validated before anything on disk is touched. An
 * undeclared root is removed first only where `mayReplace` says this
 * checkout saw kiln create it: a remote entry cannot make a restore delete
 * a directory of sources; elsewhere its files are written over what is there.
 */
export async function restoreOutputs(
  cache: Pick<LocalCache, 'restoreBlob'>,
  nodeDirAbs: string,
  declared: readonly string[],
  entry: Pick<ActionEntry, 'outputs' | 'undeclared'>,
  tmpDir: string,
  mayReplace: (undeclaredRoot: string) => boolean = () => false,
): Promise<void> {
  const undeclared = (entry.undeclared ?? []).map(normaliseDeclared);
  if (undeclared.some((u) => u.split('/').some((segment) => NO_PRODUCT_DIRS.has(segment)))) {
    throw new UnsafeOutputError(`undeclared outputs ${JSON.stringify(entry.undeclared)} reach into node_modules or kiln's state`);
  }
  const spec = outputSpec([...declared, ...undeclared]);
  validateManifest(entry.outputs, spec);

  // Synchronous where the work is a syscall or two: a restore of 1,000 nodes otherwise waits on the thread pool.
  removeOutputs(nodeDirAbs, outputSpec([...declared, ...undeclared.filter(mayReplace)]));
  const outputs = [...entry.outputs].sort(byPath);
  const made = new Set<string>();
  const mkdirOnce = (abs: string) => {
    if (!made.has(abs)) mkdirSync(abs, { recursive: true });
    made.add(abs);
  };
  for (const o of outputs) if (o.type === 'dir') mkdirOnce(join(nodeDirAbs, o.path));
  await eachBounded(
    outputs.filter((o) => o.type !== 'dir'),
    async (o) => {
      const abs = join(nodeDirAbs, o.path);
      mkdirOnce(dirname(abs));
      if (o.type === 'file') await cache.restoreBlob(o.digest!, abs, o.executable ? 0o755 : 0o644, tmpDir);
      else symlinkSync(o.target!, abs);
    },
  );
}

/** The spec of a declared list, its plain paths checked and normalised. */
export function outputSpec(declared: readonly string[]): OutputSpec {
  return OutputSpec.of(declared.map((d) => (isGlob(d) ? d : normaliseDeclared(d))));
}

/**
 * Removes the outputs `declared` names, before a run or a restore: plain
 * paths whole, glob outputs file by file (what a glob excludes, such as
 * `.next/cache`, stays).
 */
export function removeOutputs(nodeDirAbs: string, spec: OutputSpec): void {
  for (const root of spec.plain) rmSync(join(nodeDirAbs, root), { recursive: true, force: true });
  const stack = [...spec.globOnlyBases];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let entries: Dirent[];
    try {
      entries = readdirSync(join(nodeDirAbs, dir), { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const rel = dir === '' ? e.name : `${dir}/${e.name}`;
      if (NO_PRODUCT_DIRS.has(e.name)) continue;
      if (e.isDirectory()) stack.push(rel);
      else if (spec.matches(rel)) rmSync(join(nodeDirAbs, rel), { force: true });
    }
  }
}

/** Absolute on any platform a cache might be shared with (posix root or Windows drive). */
const isAbsolutePath = (path: string): boolean => path.startsWith('/') || /^[a-zA-Z]:/.test(path);

/** A relative posix path with no '.', '..' or empty segments: it names exactly one place inside the node dir. */
function assertPlainPath(path: unknown, what: string): asserts path is string {
  const plain =
    typeof path === 'string' &&
    path !== '' &&
    !/[\\\0]/.test(path) &&
    !isAbsolutePath(path) &&
    path.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
  if (!plain) throw new UnsafeOutputError(`${what} ${JSON.stringify(path)} is not a plain relative path`);
}

function normaliseDeclared(path: string): string {
  // Tolerate 'out/' and './out'; anything still escaping (or '.', the whole node dir) is refused,
  // because restore starts by deleting each declared path.
  const normal = posix.normalize(path).replace(/\/+$/, '');
  assertPlainPath(normal, 'declared output');
  return normal;
}

function validateManifest(outputs: unknown, spec: OutputSpec): asserts outputs is OutputEntry[] {
  if (!Array.isArray(outputs)) throw new UnsafeOutputError('output manifest is not a list');
  const types = new Map<string, string>();
  const links = new Map<string, string>();
  for (const o of outputs as Partial<OutputEntry>[]) {
    assertPlainPath(o?.path, 'output');
    const path = o.path;
    if (!spec.matches(path)) throw new UnsafeOutputError(`output ${path} is not under a declared output`);
    if (o.type !== 'file' && o.type !== 'dir' && o.type !== 'symlink') {
      throw new UnsafeOutputError(`output ${path} has unknown type ${JSON.stringify(o.type)}`);
    }
    if (types.has(path)) throw new UnsafeOutputError(`output ${path} is listed twice`);
    types.set(path, o.type);
    if (o.type === 'file' && !isDigest(o.digest)) throw new UnsafeOutputError(`output ${path} has no valid digest`);
    if (o.type === 'symlink') {
      if (typeof o.target !== 'string' || o.target === '') throw new UnsafeOutputError(`symlink ${path} has no target`);
      links.set(path, o.target);
    }
  }
  for (const path of types.keys()) {
    // Nothing may sit below a file or symlink: writing there would follow the link.
    for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) {
      const parent = types.get(path.slice(0, i));
      if (parent !== undefined && parent !== 'dir') throw new UnsafeOutputError(`output ${path} is inside ${parent} ${path.slice(0, i)}`);
    }
  }
  for (const [path, target] of links) {
    if (!staysInside(path, links)) throw new UnsafeOutputError(`symlink ${path} -> ${target} points outside the node dir`);
  }
}

/**
 * Resolves a symlink's target one segment at a time, expanding the
 * manifest's own symlinks on the way, so a chain such as `a -> .` plus
 * `b -> a/../..` cannot climb out where a purely lexical check would pass.
 */
function staysInside(linkPath: string, links: ReadonlyMap<string, string>): boolean {
  const resolved = linkPath.split('/').slice(0, -1);
  const own = links.get(linkPath)!;
  if (isAbsolutePath(own)) return false;
  let pending = own.split('/');
  for (let hops = 0; pending.length > 0; ) {
    const seg = pending.shift()!;
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (resolved.pop() === undefined) return false;
      continue;
    }
    resolved.push(seg);
    const target = links.get(resolved.join('/'));
    if (target === undefined) continue;
    // A loop, or a link to an absolute path, is refused like an escape.
    if (++hops > 40 || isAbsolutePath(target)) return false;
    resolved.pop();
    pending = [...target.split('/'), ...pending];
  }
  return true;
}
