import fs from 'node:fs';
import path from 'node:path';
import * as v from 'valibot';
import type { NodeContext, Rule, RuleContext, RuleOutcome } from './rule.js';
import { ARCHIVE_INGREDIENTS, fileDigest, treeEntries, writeTarGz } from './archive.js';
import { archiveMtime, checkMtime, expandUses, MTIME_SCHEMA } from './meta.js';
import { COMMAND_SCHEMA, runProcess, TIMEOUT_SCHEMA } from './run.js';
import {
  asError, attrPos, checkTreeDir, type Failure, GLOB_LIST_SCHEMA, matchGlobs, outputDir, removeScratch, scratchCopy, scratchLabel, TREE_SCHEMA, treeDep,
} from './tree.js';

/** A package (or bundle) name: one file-name component. */
export const NAME_SCHEMA = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/, 'expected a name of letters, digits and . _ + - (starting with a letter or digit)'),
);

/** What a version may expand to: it becomes part of a file name. */
const VERSION = /^[A-Za-z0-9][A-Za-z0-9._+~!-]*$/;

/**
 * A deterministic source archive NAME-VERSION.tar.gz of a tree dependency,
 * or (with `command`) the files a packaging command creates in a scratch
 * copy of the tree. The version usually comes from git through `uses`, so
 * only package nodes see it and a commit that changes nothing packaged
 * costs one re-archive at most.
 */
export const packageRule: Rule = {
  id: 'package',
  version: 1,
  description: 'Builds a deterministic source archive (or runs a packaging command) from a source tree',
  attributes: {
    name: NAME_SCHEMA,
    version: v.pipe(v.string(), v.minLength(1)),
    tree: TREE_SCHEMA,
    prefix: v.optional(v.pipe(v.string(), v.minLength(1)), undefined),
    mtime: MTIME_SCHEMA,
    command: v.optional(COMMAND_SCHEMA, undefined),
    artifacts: GLOB_LIST_SCHEMA,
    timeout: TIMEOUT_SCHEMA,
  },
  required: ['name', 'version'],
  resolve: resolvePackage,
  run: (ctx) => (ctx.node.attrs.command === undefined ? archive(ctx) : runCommand(ctx)),
};

interface Settings {
  name: string;
  /** Undefined while a used value is missing (the engine then fails the node at its `uses` entry). */
  version: string | undefined;
  /** Top dir inside the archive. */
  prefix: string | undefined;
  tree: { id: string; dir: string };
  out: string;
}

type Checked = { ok: true; value: Settings } | Failure;

/** Everything the attributes say, checked; shared by resolve (before the key) and run. */
function settings(ctx: NodeContext): Checked {
  const attrs = ctx.node.attrs;
  const command = attrs.command !== undefined;
  const misuse = (attr: string, message: string, hint: string) =>
    ({ ok: false, diagnostic: { pos: attrPos(ctx, attr), message, hint, node: ctx.node.id } }) as const;
  if (command && attrs.artifacts === undefined) return misuse('command', `node '${ctx.node.id}' has a command but no artifacts`, 'list the files it creates, e.g. artifacts: ["dist/*.tar.gz"]');
  if (!command && attrs.artifacts !== undefined) return misuse('artifacts', 'artifacts are the files a command creates', 'add command: (e.g. "python3 setup.py sdist"), or remove artifacts');
  if (command && attrs.prefix !== undefined) return misuse('prefix', 'prefix applies to the archive kiln writes, not to a command', 'remove prefix, or command');
  const out = outputDir(ctx);
  if (!out.ok) return out;
  const tree = treeDep(ctx);
  if (!tree.ok) return tree;
  const mtime = checkMtime(ctx);
  if (!mtime.ok) return mtime;
  const version = expandUses(ctx, 'version', attrs.version as string);
  if (!version.ok) return version;
  if (version.value !== undefined && !VERSION.test(version.value)) {
    // Written so in the build file, or brought in by a dependency's metadata?
    if (version.value === attrs.version) return misuse('version', `version '${version.value}' cannot be part of a file name`, 'use letters, digits and . _ + ~ ! -');
    return { ok: false, error: `version '${attrs.version}' expands to '${version.value}', which cannot be part of a file name` };
  }
  const name = attrs.name as string;
  if (attrs.prefix === undefined) {
    const prefix = version.value === undefined ? undefined : `${name}-${version.value}`;
    return { ok: true, value: { name, version: version.value, prefix, tree: tree.value, out: out.value } };
  }
  const prefix = expandUses(ctx, 'prefix', attrs.prefix as string);
  if (!prefix.ok) return prefix;
  // "." or "./" is no top dir at all.
  const top = prefix.value === undefined ? undefined : path.posix.normalize(prefix.value).replace(/\/+$/, '').replace(/^\.$/, '');
  if (top !== undefined && (top.startsWith('/') || top.split('/').includes('..'))) {
    return { ok: false, error: `prefix '${prefix.value}' must stay inside the archive` };
  }
  return { ok: true, value: { name, version: version.value, prefix: top, tree: tree.value, out: out.value } };
}

async function resolvePackage(ctx: NodeContext) {
  const s = settings(ctx);
  if (!s.ok) return s;
  const { name, version, tree } = s.value;
  const commit = ctx.deps.get(tree.id)!.meta.commit;
  const meta: Record<string, string> = {
    name,
    ...(version !== undefined ? { version } : {}),
    ...(version !== undefined && ctx.node.attrs.command === undefined ? { file: `${name}-${version}.tar.gz` } : {}),
    ...(commit !== undefined ? { commit } : {}),
  };
  return { ok: true as const, value: { ingredients: ctx.node.attrs.command === undefined ? { archive: ARCHIVE_INGREDIENTS } : {}, meta } };
}

/** Settings at run time, where every used value is known. */
function runSettings(ctx: RuleContext): { ok: true; value: Settings & { version: string; mtime: number } } | { ok: false; error: string } {
  const s = settings(ctx);
  if (!s.ok) return asError(s);
  const notDir = checkTreeDir(s.value.tree);
  if (notDir) return { ok: false, error: notDir };
  const mtime = archiveMtime(ctx);
  if (!mtime.ok) return mtime;
  return { ok: true, value: { ...s.value, version: s.value.version!, mtime: mtime.value } };
}

async function archive(ctx: RuleContext): Promise<RuleOutcome> {
  const s = runSettings(ctx);
  if (!s.ok) return s;
  const { name, version, prefix, tree, out, mtime } = s.value;
  await writeTarGz(path.join(out, `${name}-${version}.tar.gz`), treeEntries(tree.dir), { prefix: prefix!, mtime });
  return { ok: true };
}

/**
 * `command`: runs in a scratch copy of the tree with SOURCE_DATE_EPOCH (and
 * the version for pbr and setuptools-scm, which cannot read it from a tree
 * without .git); the files it creates that match `artifacts` are copied
 * into the output dir.
 */
async function runCommand(ctx: RuleContext): Promise<RuleOutcome> {
  const s = runSettings(ctx);
  if (!s.ok) return s;
  const { name, version, tree, out, mtime } = s.value;
  const scratch = await scratchCopy(ctx, tree.dir);
  const globs = ctx.node.attrs.artifacts as string[];
  const digests = async () => {
    const { files } = await matchGlobs(scratch, globs);
    return Promise.all(files.map(async (f) => [f, (await fileDigest(path.join(scratch, f))).sha256] as const));
  };
  const before = new Map(await digests());
  const outcome = await runProcess(ctx, {
    cmd: ctx.node.attrs.command as string | string[],
    cwd: scratch,
    env: {
      ...ctx.env,
      SOURCE_DATE_EPOCH: String(mtime),
      PBR_VERSION: version,
      SETUPTOOLS_SCM_PRETEND_VERSION: version,
      KILN_PACKAGE_NAME: name,
      KILN_PACKAGE_VERSION: version,
      KILN_NODE_DIR: ctx.cwd,
    },
    timeoutSeconds: ctx.node.attrs.timeout as number | undefined,
  });
  if (!outcome.ok) return outcome.error === 'cancelled' ? outcome : { ok: false, error: `${outcome.error}; its tree is kept in ${scratchLabel(ctx)}` };
  const created = (await digests()).filter(([f, sha256]) => before.get(f) !== sha256).map(([f]) => f);
  if (created.length === 0) {
    return { ok: false, error: `the command created no file matching artifacts (${globs.join(', ')}); its tree is kept in ${scratchLabel(ctx)}` };
  }
  const names = new Map<string, string>();
  for (const f of created) {
    const base = path.posix.basename(f);
    if (names.has(base)) return { ok: false, error: `artifacts '${names.get(base)}' and '${f}' have the same file name` };
    names.set(base, f);
  }
  fs.mkdirSync(out, { recursive: true });
  for (const [base, f] of names) fs.copyFileSync(path.join(scratch, f), path.join(out, base));
  await removeScratch(ctx);
  return { ok: true };
}
