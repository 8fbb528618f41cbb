import fs from 'node:fs';
import path from 'node:path';
import * as v from 'valibot';
import type { Diagnostic } from '../engine/diagnostic.js';
import { fieldPosition } from '../engine/buildfile/near-pos.js';
import type { NodeContext } from './rule.js';

/**
 * Helpers shared by the rules that work on a source tree (test, package)
 * and on files (bundle). A *tree dependency* is a direct dependency whose
 * single output is a directory: a git checkout, a patched tree, or any node
 * producing one.
 */

/** `tree: <dep id>`: which direct dependency is the tree. */
export const TREE_SCHEMA = v.optional(v.pipe(v.string(), v.minLength(1)), undefined);

/** Globs relative to some dir: no absolute paths, no `..` (they would leave it). */
export const GLOB_LIST_SCHEMA = v.optional(
  v.pipe(
    v.array(
      v.pipe(
        v.string(),
        v.minLength(1),
        v.check((g) => !path.posix.isAbsolute(g.replace(/^!/, '')), 'expected a relative glob'),
        v.check((g) => !g.replace(/^!/, '').split('/').includes('..'), "a glob may not contain '..'"),
      ),
    ),
    v.minLength(1),
  ),
  undefined,
);

export type Located<T> = { ok: true; value: T } | { ok: false; diagnostic: Diagnostic };
export type Failure = { ok: false; error: string } | { ok: false; diagnostic: Diagnostic };

/** For run, where resolve has already reported build-file mistakes: a failure as an error message. */
export function asError(f: Failure): { ok: false; error: string } {
  return 'error' in f ? f : { ok: false, error: f.diagnostic.message };
}

/** Where an attribute of the node is written, for located mistakes. */
export function attrPos(ctx: NodeContext, attr: string): Diagnostic['pos'] {
  return fieldPosition(ctx.node, attr);
}

/**
 * The tree dependency: `tree:` when set, else the only direct dependency
 * with exactly one output. It must be direct: only direct deps' output
 * digests enter the key.
 */
export function treeDep(ctx: NodeContext): Located<{ id: string; dir: string }> {
  const direct = ctx.node.deps.map((d) => d.id);
  const named = ctx.node.attrs.tree as string | undefined;
  const fail = (message: string, hint: string, pos = attrPos(ctx, 'tree')): Located<never> => ({
    ok: false,
    diagnostic: { pos, message, hint, node: ctx.node.id },
  });
  let id: string;
  if (named !== undefined) {
    if (!direct.includes(named)) return fail(`tree '${named}' is not a dependency of '${ctx.node.id}'`, `add '${named}' to its deps`);
    id = named;
  } else {
    const candidates = direct.filter((d) => ctx.deps.get(d)!.outputs.length === 1);
    if (candidates.length !== 1) {
      return candidates.length === 0
        ? fail(`node '${ctx.node.id}' has no tree dependency`, 'depend on a node with one output directory (e.g. a git or patches node)', ctx.node.pos)
        : fail(`node '${ctx.node.id}' has several possible tree dependencies: ${candidates.join(', ')}`, `choose one with tree: ${candidates[0]}`, ctx.node.pos);
    }
    id = candidates[0]!;
  }
  const dep = ctx.deps.get(id)!;
  if (dep.outputs.length !== 1) {
    return fail(`tree '${id}' has ${dep.outputs.length} outputs`, 'a tree dependency has exactly one output: its directory');
  }
  const dir = path.join(dep.dir, dep.outputs[0]!);
  const rel = path.relative(dir, ctx.cwd);
  if (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel)) {
    // Its scratch dir would be inside the tree: a cached artifact, and a copy into itself.
    return fail(`node '${ctx.node.id}' has its node dir inside the output of its tree '${id}'`, 'give it another dir', attrPos(ctx, 'dir'));
  }
  return { ok: true, value: { id, dir } };
}

/** The one declared output dir of a node that writes its results into a dir (package, bundle). */
export function outputDir(ctx: NodeContext): Located<string> {
  if (ctx.node.outputs.length === 1) return { ok: true, value: path.join(ctx.cwd, ctx.node.outputs[0]!) };
  return {
    ok: false,
    diagnostic: {
      pos: attrPos(ctx, 'outputs'),
      message: `rule '${ctx.node.rule}' writes into one output dir, but node '${ctx.node.id}' declares ${ctx.node.outputs.length} outputs`,
      hint: 'e.g. outputs: [dist]',
      node: ctx.node.id,
    },
  };
}

/** Checks at run time that the tree dependency's output really is a directory. */
export function checkTreeDir(tree: { id: string; dir: string }): string | undefined {
  return fs.statSync(tree.dir, { throwIfNoEntry: false })?.isDirectory() ? undefined : `tree '${tree.id}' did not produce a directory`;
}

/**
 * The node's scratch dir: under its node dir, inside `.kiln/` (never an
 * input of any node, never another node's output).
 */
export function scratchDir(ctx: NodeContext): string {
  return path.join(ctx.cwd, '.kiln', 'scratch', encodeURIComponent(ctx.node.id));
}

/**
 * A fresh writable copy of a tree in the node's scratch dir. Commands never
 * run inside another node's outputs: those are cached artifacts. Symlinks
 * are copied as they are; files are cloned where the filesystem can.
 */
export async function scratchCopy(ctx: NodeContext, tree: string): Promise<string> {
  const dir = scratchDir(ctx);
  await fs.promises.rm(dir, { recursive: true, force: true });
  await fs.promises.mkdir(path.dirname(dir), { recursive: true });
  await fs.promises.cp(tree, dir, { recursive: true, verbatimSymlinks: true, mode: fs.constants.COPYFILE_FICLONE });
  return dir;
}

export async function removeScratch(ctx: NodeContext): Promise<void> {
  await fs.promises.rm(scratchDir(ctx), { recursive: true, force: true });
}

/** Workspace-relative path of the scratch dir, for messages. */
export function scratchLabel(ctx: NodeContext): string {
  return path.relative(ctx.root, scratchDir(ctx)).split(path.sep).join('/');
}

/**
 * Files under `cwd` matching `globs` (picomatch syntax, dot files match, a
 * leading `!` excludes), sorted; and the non-excluding globs that matched
 * nothing. `.git` and `.kiln` dirs are never searched.
 */
export async function matchGlobs(cwd: string, globs: string[]): Promise<{ files: string[]; unmatched: string[] }> {
  // Loaded on first use: only builds that run these rules need it.
  const { glob } = await import('tinyglobby');
  const ignore = ['**/.git/**', '**/.kiln/**', ...globs.filter((g) => g.startsWith('!')).map((g) => g.slice(1))];
  const found = new Set<string>();
  const unmatched: string[] = [];
  for (const pattern of globs.filter((g) => !g.startsWith('!'))) {
    const files = await glob(pattern, { cwd, dot: true, onlyFiles: true, ignore });
    if (files.length === 0) unmatched.push(pattern);
    for (const f of files) found.add(f);
  }
  return { files: [...found].sort(compareBytes), unmatched };
}

/** Byte order of the UTF-8 paths (what `LC_ALL=C sort` gives), not UTF-16 code units. */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
