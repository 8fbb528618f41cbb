import path from 'node:path';
import * as v from 'valibot';
import type { Diagnostic } from '../engine/diagnostic.js';
import type { NodeContext, Resolution, Rule, RuleContext, RuleOutcome } from './rule.js';
import { isRefLike } from './git/location.js';

export { mirrorPath } from './git/location.js';

/** A repository-relative path, normalised (`./a/b/` is `a/b`); never absolute, never climbing out, never the root itself. */
const repoPath = v.pipe(
  v.string('expected a string'),
  v.check((p) => !p.startsWith('/'), 'expected a path relative to the repository root, not an absolute path'),
  v.transform((p) => path.posix.normalize(p).replace(/\/+$/, '')),
  v.check((p) => p !== '.' && p !== '' && p !== '..' && !p.startsWith('../'), 'expected a path inside the repository (for the whole repository, leave out paths)'),
);

/**
 * A project from git: resolves a ref to a tree (the key) before every
 * build and exports that tree into the node's single output. Commit,
 * dates and version are metadata for dependents that declare `uses:`.
 * See BUILD.md, "rule: git".
 */
export const gitRule: Rule = {
  id: 'git',
  version: 1,
  description: 'Exports the tree of a git ref (branch, tag, commit) into the node output',
  attributes: {
    url: v.pipe(
      v.string('expected a git URL or a local path'),
      v.minLength(1, 'expected a git URL or a local path'),
      v.check((u) => !u.startsWith('-'), "a URL may not start with '-'"),
    ),
    ref: v.pipe(
      v.string("expected a branch, tag or commit id (quote it if YAML reads it as a number: ref: '2024.1')"),
      v.check(isRefLike, "expected a branch, tag, commit id or full ref name (no spaces, no leading '-', none of ~ ^ : ? * [ \\)"),
    ),
    paths: v.optional(
      v.pipe(
        v.array(repoPath, 'expected a list of repository-relative paths'),
        v.minLength(1, 'expected at least one path (for the whole repository, leave out paths)'),
        v.check(disjoint, 'paths may not repeat or contain one another'),
      ),
      undefined,
    ),
  },
  required: ['url', 'ref'],
  overridable: true,
  upstream: true,
  resolve,
  run,
};

function disjoint(paths: string[]): boolean {
  const sorted = [...paths].sort();
  return sorted.every((p, i) => i === 0 || (p !== sorted[i - 1] && !p.startsWith(`${sorted[i - 1]}/`)));
}

async function resolve(
  ctx: NodeContext,
): Promise<{ ok: true; value: Resolution } | { ok: false; error: string } | { ok: false; diagnostic: Diagnostic }> {
  // Loaded on first use: builds without git nodes never pay for it.
  const [{ resolveGit, outputsMistake }, { GitRuleError }] = await Promise.all([import('./git/resolve.js'), import('./git/exec.js')]);
  const mistake = outputsMistake(ctx.node);
  if (mistake) return { ok: false, diagnostic: mistake };
  try {
    return { ok: true, value: await resolveGit(ctx) };
  } catch (e) {
    if (e instanceof GitRuleError) return { ok: false, error: e.message };
    throw e;
  }
}

async function run(ctx: RuleContext): Promise<RuleOutcome> {
  const [{ exportTree }, { GitRuleError }] = await Promise.all([import('./git/export.js'), import('./git/exec.js')]);
  const meta = ctx.resolution?.meta;
  if (!meta?.tree || !meta.mirror) return { ok: false, error: 'internal: git node ran without a resolution' };
  const paths = ctx.node.attrs.paths as string[] | undefined;
  try {
    const n = await exportTree(meta.mirror, meta.tree, path.join(ctx.cwd, ctx.node.outputs[0]!), {
      signal: ctx.signal,
      ...(paths ? { paths } : {}),
    });
    // Replayed on cache hits, possibly for another commit with the same content: name only what the key names.
    ctx.log.write('stdout', `exported ${n} files ${paths ? `of ${paths.join(', ')}` : `from tree ${meta.tree}`}\n`);
    return { ok: true };
  } catch (e) {
    if (e instanceof GitRuleError) return { ok: false, error: e.message };
    throw e;
  }
}
