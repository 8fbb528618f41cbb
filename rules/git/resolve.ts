import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { NodeDecl } from '../../engine/buildfile/types.js';
import { fieldPosition } from '../../engine/buildfile/near-pos.js';
import type { Diagnostic } from '../../engine/diagnostic.js';
import type { NodeContext, Resolution } from '../rule.js';
import { pbrVersion, readCommit, isoUtc, type CommitInfo } from './describe.js';
import { git, gitEnv, gitOk, GitRuleError } from './exec.js';
import { listTree } from './export.js';
import { effectiveUrl, expandHome, isRefLike } from './location.js';
import { ensureMirror, resolveRef } from './mirror.js';

/** A build-file mistake only visible once the node is built: exactly one output is needed. */
export function outputsMistake(node: NodeDecl): Diagnostic | undefined {
  if (node.outputs.length === 1) return undefined;
  return {
    pos: fieldPosition(node, 'outputs'),
    node: node.id,
    message: `rule git needs exactly one output, the directory the tree is exported into; node '${node.id}' declares ${node.outputs.length === 0 ? 'none' : node.outputs.length}`,
    hint: 'e.g. outputs: [src]',
  };
}

/** The project a git node stands for; throws GitRuleError for anything the user can fix. */
export async function resolveGit(ctx: NodeContext): Promise<Resolution> {
  const { node } = ctx;
  const url = effectiveUrl(node.attrs.url as string, ctx.cwd);
  const declaredRef = node.attrs.ref as string;
  const paths = node.attrs.paths as string[] | undefined;
  const signal = ctx.signal;

  if (ctx.override !== undefined) {
    const checkout = await asCheckout(ctx.override);
    if (checkout) return resolveCheckout(checkout, url, paths, signal);
    if (!isRefLike(ctx.override)) {
      throw new GitRuleError(`--override ${node.id}=${ctx.override}: not a ref name nor a git checkout`);
    }
  }
  const ref = ctx.override ?? declaredRef;
  const mo = { cacheDir: ctx.cacheDir, url, offline: ctx.offline, signal, ref };
  const mirror = await ensureMirror(mo);
  const commit = await resolveRef(mirror, { ...mo, namespace: ctx.override !== undefined ? 'override' : 'fetch' });
  const info = await readCommit(mirror, commit, { signal });
  const version = await pbrVersion(mirror, commit, { signal });
  const ingredients = await contentIds(mirror, info, paths, `${url} (ref '${ref}')`, signal);
  const notes = ctx.override !== undefined ? [`override: ref '${ref}' (commit ${commit.slice(0, 12)}) instead of '${declaredRef}'`] : [];
  return {
    ingredients,
    meta: meta(info, version, url, ref, mirror),
    ...(notes.length ? { notes } : {}),
  };
}

function meta(info: CommitInfo, version: string, url: string, ref: string, mirror: string): Record<string, string> {
  return {
    commit: info.commit,
    tree: info.tree,
    date: isoUtc(info.epoch),
    epoch: String(info.epoch),
    version,
    url,
    ref,
    subject: info.subject,
    mirror,
  };
}

/**
 * The key's view of the project: the root tree id, or with `paths` the id
 * of each path (tree id for a directory; `<mode> <blob id>` for a file, so
 * that an exec bit change counts too).
 */
async function contentIds(
  gitDir: string,
  info: CommitInfo,
  paths: string[] | undefined,
  where: string,
  signal: AbortSignal,
): Promise<Record<string, unknown>> {
  if (!paths) return { tree: info.tree };
  const entries = await listTree(gitDir, info.tree, { recursive: false, paths, signal });
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const trees: Record<string, string> = {};
  const missing: string[] = [];
  for (const p of paths) {
    const e = byPath.get(p);
    if (!e) missing.push(p);
    else trees[p] = e.type === 'tree' ? e.oid : `${e.mode} ${e.oid}`;
  }
  if (missing.length > 0) {
    throw new GitRuleError(
      `${missing.length === 1 ? 'path' : 'paths'} ${missing.map((p) => `'${p}'`).join(', ')} not found at commit ${info.commit.slice(0, 12)} of ${where}`,
    );
  }
  return { trees };
}

interface Checkout {
  /** Top level of the work tree. */
  top: string;
  /** Absolute common git dir (objects, tags), also for linked worktrees. */
  gitDir: string;
}

/** Does the override name a local checkout? Only the top level of a work tree counts; a path-looking value that is not one is an error. */
async function asCheckout(value: string): Promise<Checkout | undefined> {
  const looksLikePath = value === '.' || value === '..' || /^(\/|\.\.?\/|~\/?$|~\/)/.test(value);
  const abs = path.resolve(expandHome(value));
  let isDir = false;
  try {
    isDir = fs.statSync(abs).isDirectory();
  } catch {
    /* not a path */
  }
  if (!isDir) {
    if (looksLikePath) throw new GitRuleError(`override: ${abs} is not a directory`);
    return undefined;
  }
  const r = await git(['-C', abs, 'rev-parse', '--path-format=absolute', '--show-toplevel', '--git-common-dir']);
  const [top, gitDir] = r.stdout.toString('utf8').trim().split('\n');
  if (r.code !== 0 || !top || !gitDir || fs.realpathSync(top) !== fs.realpathSync(abs)) {
    if (looksLikePath) throw new GitRuleError(`override: ${abs} is not the top directory of a git checkout`);
    return undefined;
  }
  return { top, gitDir };
}

/**
 * A local checkout as it is, uncommitted changes and untracked (not
 * ignored) files included: its tree is written through a temporary index
 * (`read-tree HEAD`, `add -A`, `write-tree`), so the user's own index and
 * work tree are left alone; only new objects land in its object store, as
 * `git stash` would write them.
 */
async function resolveCheckout(c: Checkout, url: string, paths: string[] | undefined, signal: AbortSignal): Promise<Resolution> {
  const where = `checkout ${c.top}`;
  const head = await gitOk(['-C', c.top, 'rev-parse', '--verify', 'HEAD^{commit}'], { signal }, (r) => `override: ${where} has no commit to build on: ${r}`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-git-index-'));
  let tree: string;
  try {
    const o = { signal, env: gitEnv({ GIT_INDEX_FILE: path.join(tmp, 'index') }) };
    const fail = (r: string) => `override: cannot snapshot ${where}: ${r}`;
    await gitOk(['-C', c.top, 'read-tree', head], o, fail);
    await gitOk(['-C', c.top, 'add', '--all', '--', '.'], o, fail);
    tree = await gitOk(['-C', c.top, 'write-tree'], o, fail);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const info = await readCommit(c.gitDir, head, { signal });
  const dirty = tree !== info.tree;
  let version = await pbrVersion(c.gitDir, head, { signal });
  if (dirty) version += version.includes('+') ? '.dirty' : '+dirty';
  const branch = await git(['-C', c.top, 'symbolic-ref', '--quiet', '--short', 'HEAD'], { signal });
  const ref = branch.code === 0 ? branch.stdout.toString('utf8').trim() : 'HEAD';
  const snapshot = { ...info, tree };
  const ingredients = await contentIds(c.gitDir, snapshot, paths, where, signal);
  return {
    ingredients,
    meta: meta(snapshot, version, url, ref, c.gitDir),
    notes: [`override: ${where} at ${head.slice(0, 12)}${dirty ? ' with uncommitted changes' : ''}`],
  };
}
