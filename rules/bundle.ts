import fs from 'node:fs';
import path from 'node:path';
import type { Diagnostic } from '../engine/diagnostic.js';
import type { NodeContext, Resolution, Rule, RuleContext, RuleOutcome } from './rule.js';
import { ARCHIVE_INGREDIENTS, fileDigest, treeEntries, writeTarGz, type ArchiveEntry } from './archive.js';
import { archiveMtime, checkMtime, MTIME_SCHEMA } from './meta.js';
import { NAME_SCHEMA } from './package.js';
import { asError, attrPos, compareBytes, GLOB_LIST_SCHEMA, matchGlobs, outputDir, type Located } from './tree.js';
import { isWithin } from '../engine/buildfile/paths.js';

/**
 * The release payload: the files of the package nodes it depends on, plus
 * config files from its node dir, in one deterministic NAME.tar.gz with a
 * manifest.json (also written beside it). Package nodes are the direct deps
 * publishing `name` and `version`; other deps (e.g. test nodes) only gate
 * the bundle: it is built only when they pass.
 */
export const bundleRule: Rule = {
  id: 'bundle',
  version: 1,
  description: 'Bundles package outputs and config files into one archive with a manifest',
  attributes: {
    name: NAME_SCHEMA,
    files: GLOB_LIST_SCHEMA,
    mtime: MTIME_SCHEMA,
  },
  required: ['name'],
  resolve: resolveBundle,
  run: runBundle,
};

/** A package dependency as the manifest names it; all of it enters the key. */
interface Member {
  dep: string;
  name: string;
  version: string;
  sourceCommit: string | null;
}

/** Direct deps that are packages (publish name and version), with the upstream commit they were built from. */
function members(ctx: NodeContext): Member[] {
  return ctx.node.deps.flatMap(({ id }) => {
    const { name, version, commit } = ctx.deps.get(id)!.meta;
    return name !== undefined && version !== undefined ? [{ dep: id, name, version, sourceCommit: commit ?? null }] : [];
  });
}

/**
 * The config files `files` selects, node-dir-relative. Each must be an
 * input of the node: inputs are what the engine hashes into the key.
 */
async function configFiles(ctx: NodeContext): Promise<Located<string[]>> {
  const globs = ctx.node.attrs.files as string[] | undefined;
  // A missing node dir is reported by the engine, with its own message.
  if (!globs || !fs.existsSync(ctx.cwd)) return { ok: true, value: [] };
  const fail = (message: string, hint?: string): Located<never> => ({
    ok: false,
    diagnostic: { pos: attrPos(ctx, 'files'), message, ...(hint ? { hint } : {}), node: ctx.node.id },
  });
  const { files, unmatched } = await matchGlobs(ctx.cwd, globs);
  if (unmatched.length > 0) return fail(`files: '${unmatched[0]}' matches no file in the node dir`);
  const { default: picomatch } = await import('picomatch');
  const matches = (globs: string[]) => globs.map((g) => picomatch(g, { dot: true }));
  const include = matches(ctx.node.inputs.filter((p) => !p.glob.startsWith('!')).map((p) => p.glob));
  const exclude = matches(ctx.node.inputs.filter((p) => p.glob.startsWith('!')).map((p) => p.glob.slice(1)));
  const isOutput = (f: string) => ctx.node.outputs.some((o) => isWithin(f, o));
  const notInput = files.find((f) => isOutput(f) || !include.some((m) => m(f)) || exclude.some((m) => m(f)));
  if (notInput !== undefined) {
    return fail(`files: '${notInput}' is not an input of node '${ctx.node.id}'`, `add it to inputs (e.g. inputs: ${JSON.stringify(globs)}): only inputs enter the key`);
  }
  return { ok: true, value: files };
}

/** Checks the build file's side, and puts the manifest's metadata into the key (a new upstream commit with the same package bytes still rewrites the manifest). */
async function resolveBundle(ctx: NodeContext): Promise<{ ok: true; value: Resolution } | { ok: false; diagnostic: Diagnostic }> {
  const out = outputDir(ctx);
  if (!out.ok) return out;
  const mtime = checkMtime(ctx);
  if (!mtime.ok) return mtime;
  const files = await configFiles(ctx);
  if (!files.ok) return files;
  const packages = members(ctx);
  if (packages.length === 0 && files.value.length === 0) {
    return { ok: false, diagnostic: { pos: ctx.node.pos, message: `bundle '${ctx.node.id}' has nothing to bundle`, hint: 'depend on package nodes, or list config files in files:', node: ctx.node.id } };
  }
  const name = ctx.node.attrs.name as string;
  return { ok: true, value: { ingredients: { archive: ARCHIVE_INGREDIENTS, members: packages }, meta: { name, file: `${name}.tar.gz` } } };
}

const PACKAGES_DIR = 'packages';
const MANIFEST = 'manifest.json';

async function runBundle(ctx: RuleContext): Promise<RuleOutcome> {
  const out = outputDir(ctx);
  const files = await configFiles(ctx);
  const mtime = archiveMtime(ctx);
  if (!out.ok) return asError(out);
  if (!files.ok) return asError(files);
  if (!mtime.ok) return mtime;
  const clash = files.value.find((f) => f === MANIFEST || f.startsWith(`${PACKAGES_DIR}/`));
  if (clash) return { ok: false, error: `config file '${clash}' clashes with the bundle's own ${clash === MANIFEST ? MANIFEST : `${PACKAGES_DIR}/ dir`}` };

  const entries: ArchiveEntry[] = [];
  const manifestMembers = [];
  const byFile = new Map<string, string>();
  for (const m of members(ctx)) {
    const dep = ctx.deps.get(m.dep)!;
    for (const abs of dep.outputs.flatMap((o) => outputFiles(path.join(dep.dir, o)))) {
      const file = path.basename(abs);
      if (byFile.has(file)) return { ok: false, error: `'${m.dep}' and '${byFile.get(file)}' both produce a file named '${file}'` };
      byFile.set(file, m.dep);
      entries.push({ path: `${PACKAGES_DIR}/${file}`, type: 'file', source: abs, executable: isExecutable(abs) });
      manifestMembers.push({ name: m.name, version: m.version, sourceCommit: m.sourceCommit, file, ...(await fileDigest(abs)) });
    }
  }
  const manifestFiles = [];
  for (const rel of files.value) {
    const abs = path.join(ctx.cwd, rel);
    entries.push({ path: rel, type: 'file', source: abs, executable: isExecutable(abs) });
    manifestFiles.push({ path: rel, ...(await fileDigest(abs)) });
  }
  const name = ctx.node.attrs.name as string;
  const manifest = {
    version: 1,
    name,
    members: manifestMembers.sort((a, b) => compareBytes(a.file, b.file)),
    files: manifestFiles,
  };
  const manifestBytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
  entries.push({ path: MANIFEST, type: 'file', source: manifestBytes, executable: false });
  fs.mkdirSync(out.value, { recursive: true });
  fs.writeFileSync(path.join(out.value, MANIFEST), manifestBytes);
  await writeTarGz(path.join(out.value, `${name}.tar.gz`), entries, { prefix: name, mtime: mtime.value });
  return { ok: true };
}

/** The regular files of one output: itself, or those under it. */
function outputFiles(abs: string): string[] {
  if (!fs.statSync(abs).isDirectory()) return [abs];
  return treeEntries(abs).flatMap((e) => (e.type === 'file' ? [e.source as string] : [])).sort(compareBytes);
}

function isExecutable(abs: string): boolean {
  return (fs.statSync(abs).mode & 0o111) !== 0;
}
