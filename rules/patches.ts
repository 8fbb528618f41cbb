import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as v from 'valibot';
import { formatDiagnostic, type Diagnostic } from '../engine/diagnostic.js';
import { sha256Hex } from '../engine/keys/hash/sha256.js';
import type { DepView, NodeContext, Resolution, Rule, RuleContext, RuleOutcome } from './rule.js';
import { attrPos, checkTreeDir, outputDir, TREE_SCHEMA, treeDep } from './tree.js';
import { git, gitEnv } from './patches/git.js';
import { conflictReport, short } from './patches/report.js';
import { isMailPatch, parseSeries, patchDigest, touchedPaths } from './patches/series.js';
import { appliesTo, firstLine, patchIdsOf, UPSTREAM_SEARCH_LIMIT, upstreamPatchIds, type UpstreamCommit } from './patches/upstream.js';

/**
 * Applies a quilt-style patch series on top of an upstream tree (a
 * dependency's single output directory), like PLY or rdopkg do with
 * `git am --3way`. The key hashes the normalised patches, so re-exporting
 * them changes nothing; a patch already upstream is skipped with a note,
 * leaving the same patched tree (early cutoff downstream); a conflict fails
 * the node with a report naming the patch, the upstream commit, the files
 * and hunks, and how to reproduce it.
 */
export const patchesRule: Rule = {
  id: 'patches',
  version: 1,
  description: 'Applies a patch series (git am --3way) on top of an upstream tree',
  attributes: {
    series: v.pipe(v.string(), v.minLength(1)),
    tree: TREE_SCHEMA,
  },
  required: ['series'],
  resolve: resolvePatches,
  run: applyPatches,
};

/** Upstream metadata a patched tree passes on: it still stands for that upstream commit. */
const PASSED_META = ['commit', 'version', 'date', 'epoch', 'subject'];

type Status =
  | { status: 'apply'; reverted?: UpstreamCommit }
  | { status: 'upstream'; commit?: UpstreamCommit };

interface PlannedPatch {
  /** As written in the series file. */
  name: string;
  abs: string;
  strip: number;
  mail: boolean;
  /** The file's bytes, as git gets them. */
  raw: Buffer;
  /** Decoded for reports. */
  text: string;
  digest: string;
}

interface Plan {
  depId: string;
  dep: DepView;
  treeDir: string;
  /** Absolute output dir: the patched tree. */
  outDir: string;
  /** Series path relative to the workspace root, for messages. */
  seriesRel: string;
  patches: (PlannedPatch & Status)[];
  notes: string[];
}

/** resolve() → run() in the same process, without putting absolute paths into the key. */
const plans = new WeakMap<Resolution, Plan>();

type Failure = { ok: false; error: string } | { ok: false; diagnostic: Diagnostic };
type Planned = { ok: true; value: Plan } | Failure;

async function resolvePatches(ctx: NodeContext): Promise<{ ok: true; value: Resolution } | Failure> {
  const planned = await makePlan(ctx);
  if (!planned.ok) return planned;
  const plan = planned.value;
  const upstream = plan.patches.filter((p) => p.status === 'upstream').map((p) => p.name);
  const meta: Record<string, string> = {};
  for (const k of PASSED_META) if (plan.dep.meta[k] !== undefined) meta[k] = plan.dep.meta[k]!;
  meta.patches = String(plan.patches.length - upstream.length);
  const resolution: Resolution = {
    ingredients: {
      // Order matters; -pN only when it is not the default.
      patches: plan.patches.map((p) => (p.strip === 1 ? [p.name, p.digest] : [p.name, p.digest, `-p${p.strip}`])),
      // Which patches are skipped decides the result; normally it follows from the tree, but a
      // patch-id match depends on upstream history, which the tree's digest does not cover.
      ...(upstream.length > 0 ? { upstream } : {}),
    },
    meta,
    ...(plan.notes.length > 0 ? { notes: plan.notes } : {}),
  };
  plans.set(resolution, plan);
  return { ok: true, value: resolution };
}

async function makePlan(ctx: NodeContext): Promise<Planned> {
  const fail = (error: string): Planned => ({ ok: false, error });
  const node = ctx.node;
  // Build-file mistakes (which dep is the tree, how many outputs) are located diagnostics.
  const out = outputDir(ctx);
  if (!out.ok) return out;
  const tree = treeDep(ctx);
  if (!tree.ok) return tree;
  const depId = tree.value.id;
  const dep = ctx.deps.get(depId)!;
  const treeDir = tree.value.dir;
  const notDir = checkTreeDir(tree.value);
  if (notDir) return fail(notDir);

  const seriesAttr = node.attrs.series as string;
  const seriesAbs = path.resolve(ctx.cwd, seriesAttr);
  const seriesRel = wsRel(ctx.root, seriesAbs);
  if (seriesRel === null) {
    return { ok: false, diagnostic: { pos: attrPos(ctx, 'series'), node: node.id, message: `series '${seriesAttr}' is outside the workspace`, hint: 'keep the series and its patches in the workspace: their content is part of the key' } };
  }
  let seriesText: string;
  try {
    seriesText = fs.readFileSync(seriesAbs, 'utf8');
  } catch (e) {
    return fail(`series file '${seriesRel}' ${describeReadError(e)}`);
  }
  const parsed = parseSeries(seriesText);
  if (!parsed.ok) return fail(`series file '${seriesRel}', ${parsed.error}`);

  const seriesDir = path.dirname(seriesAbs);
  const patches: PlannedPatch[] = [];
  for (const e of parsed.entries) {
    const abs = path.resolve(seriesDir, e.name);
    const rel = wsRel(ctx.root, abs);
    if (rel === null || path.isAbsolute(e.name)) {
      return fail(`patch '${e.name}' (${seriesRel}:${e.line}) is outside the workspace: its content is part of the key`);
    }
    let raw: Buffer;
    try {
      raw = fs.readFileSync(abs);
    } catch (err) {
      return fail(`patch '${e.name}' listed in ${seriesRel}:${e.line}: '${rel}' ${describeReadError(err)}`);
    }
    if (!/^(diff |--- |@@ |GIT binary patch|Binary files )/m.test(raw.toString('latin1'))) {
      return fail(`patch '${e.name}' listed in ${seriesRel}:${e.line} contains no diff: is '${rel}' a patch?`);
    }
    patches.push({ name: e.name, abs, strip: e.strip, mail: isMailPatch(raw.toString('latin1')), raw, text: raw.toString('utf8'), digest: patchDigest(raw) });
  }

  const notes: string[] = [];
  let statuses: Status[];
  try {
    statuses = await upstreamStatuses(ctx, dep, treeDir, patches, notes);
  } catch (e) {
    if (ctx.signal.aborted) return fail('cancelled');
    return fail(`checking which patches are upstream: ${(e as Error).message}`);
  }
  patches.forEach((p, i) => {
    const s = statuses[i]!;
    if (s.status === 'upstream') {
      notes.push(
        s.commit
          ? `patch ${p.name} is already upstream in ${short(s.commit.sha)} "${s.commit.subject}"`
          : `patch ${p.name} is already applied upstream (reverse-applies cleanly)`,
      );
    } else if (s.reverted) {
      notes.push(
        `patch ${p.name} matches upstream ${short(s.reverted.sha)} "${s.reverted.subject}" by patch-id but still applies cleanly (reverted upstream?); applying it`,
      );
    }
  });
  return { ok: true, value: { depId, dep, treeDir, outDir: out.value, seriesRel, patches: patches.map((p, i) => ({ ...p, ...statuses[i]! })), notes } };
}

/**
 * Which patches are already upstream. A patch is upstream when its stable
 * patch-id equals that of a commit in the upstream's recent first-parent
 * history (dep meta `mirror` + `commit`) and it no longer applies forward
 * (so a change upstream took and then reverted is still applied), or when
 * it reverse-applies cleanly to the tree. Checked against the upstream
 * tree alone, never after earlier patches of the series.
 *
 * Results are cached in the kiln cache dir by the normalised patches, the
 * upstream commit (for the history search) and the content of the files
 * the patches touch (all a `git apply --check` reads), so a no-op build
 * runs no git.
 */
async function upstreamStatuses(ctx: NodeContext, dep: DepView, treeDir: string, patches: PlannedPatch[], notes: string[]): Promise<Status[]> {
  if (patches.length === 0) return [];
  const { commit, mirror } = dep.meta;
  const searchable = commit !== undefined && mirror !== undefined && fs.existsSync(mirror);
  const files = touchedFingerprint(treeDir, patches);
  const cacheFile = files
    ? path.join(
        ctx.cacheDir, 'patches', 'status',
        `${sha256Hex(JSON.stringify({ v: 1, commit: searchable ? commit : null, limit: UPSTREAM_SEARCH_LIMIT, patches: patches.map((p) => [p.digest, p.strip]), files }))}.json`,
      )
    : undefined;
  if (cacheFile) {
    const cached = readStatusCache(cacheFile, patches.length);
    if (cached) return cached;
  }

  const env = gitEnv(ctx.env);
  let index: Map<string, UpstreamCommit> | undefined;
  let complete = true;
  if (searchable) {
    try {
      index = await upstreamPatchIds(mirror, commit, ctx.cacheDir, env, ctx.signal);
    } catch (e) {
      if (ctx.signal.aborted) throw e;
      complete = false;
      notes.push(`upstream history not searched for patches already merged: ${firstLine((e as Error).message)}`);
    }
  } else if (commit !== undefined && mirror !== undefined) {
    notes.push(`upstream mirror ${mirror} not found: history not searched for patches already merged`);
  }

  const statuses: Status[] = [];
  for (const p of patches) {
    if (index) {
      const ids = await patchIdsOf(p.raw, env, treeDir, ctx.signal);
      const hits = ids.map((id) => index!.get(id));
      if (ids.length > 0 && hits.every((h) => h !== undefined)) {
        const found = hits[0]!;
        statuses.push(
          (await appliesTo(treeDir, p.raw, p.strip, false, env, ctx.signal))
            ? { status: 'apply', reverted: found }
            : { status: 'upstream', commit: found },
        );
        continue;
      }
    }
    statuses.push((await appliesTo(treeDir, p.raw, p.strip, true, env, ctx.signal)) ? { status: 'upstream' } : { status: 'apply' });
  }
  if (ctx.signal.aborted) throw new Error('cancelled');
  if (cacheFile && complete) writeStatusCache(cacheFile, statuses);
  return statuses;
}

/** Type and content of every tree file the patches name: `-` missing, `d` dir, `l:<target>`, `f:`/`x:<sha256>`. */
function touchedFingerprint(treeDir: string, patches: PlannedPatch[]): Record<string, string> | null {
  const files: Record<string, string> = {};
  for (const p of patches) {
    const paths = touchedPaths(p.raw, p.strip);
    if (!paths) return null;
    for (const rel of paths) {
      if (rel in files) continue;
      const abs = path.join(treeDir, rel);
      let st: fs.Stats | undefined;
      try {
        st = fs.lstatSync(abs, { throwIfNoEntry: false });
      } catch {
        st = undefined; // ENOTDIR: a parent is a file
      }
      files[rel] = !st
        ? '-'
        : st.isDirectory()
          ? 'd'
          : st.isSymbolicLink()
            ? `l:${fs.readlinkSync(abs)}`
            : st.isFile()
              ? `${st.mode & 0o111 ? 'x' : 'f'}:${sha256Hex(fs.readFileSync(abs))}`
              : '?';
    }
  }
  return files;
}

function readStatusCache(file: string, count: number): Status[] | undefined {
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
    if (Array.isArray(parsed) && parsed.length === count && parsed.every((s) => s && (s.status === 'apply' || s.status === 'upstream'))) {
      return parsed as Status[];
    }
  } catch {
    /* missing or torn: recompute */
  }
  return undefined;
}

function writeStatusCache(file: string, statuses: Status[]): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}-${Math.random().toString(16).slice(2, 14)}`;
    fs.writeFileSync(tmp, JSON.stringify(statuses));
    fs.renameSync(tmp, file);
  } catch {
    /* a read-only cache only costs time */
  }
}

async function applyPatches(ctx: RuleContext): Promise<RuleOutcome> {
  let plan = ctx.resolution ? plans.get(ctx.resolution) : undefined;
  if (!plan) {
    const again = await makePlan(ctx);
    if (!again.ok) return { ok: false, error: 'error' in again ? again.error : formatDiagnostic(again.diagnostic) };
    plan = again.value;
  }
  const out = plan.outDir;
  const say = (line: string) => ctx.log.write('stdout', `${line}\n`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-patches-'));
  const gitDir = path.join(tmp, 'git');
  const env = gitEnv(ctx.env);
  const g = (args: string[]) => git(['--git-dir', gitDir, '--work-tree', out, ...args], { cwd: out, env, signal: ctx.signal });
  const cancelled = (): RuleOutcome => ({ ok: false, error: 'cancelled' });
  let done = false;
  try {
    const init = await git(['init', '-q', '--bare', '--template=', gitDir], { cwd: tmp, env, signal: ctx.signal });
    if (init.code !== 0) return { ok: false, error: `git init failed: ${firstLine(init.stderr)}` };
    // The tree's own .gitattributes must not convert line endings or run filters: bytes in, bytes out.
    fs.mkdirSync(path.join(gitDir, 'info'), { recursive: true });
    fs.writeFileSync(path.join(gitDir, 'info', 'attributes'), '* -text -eol -filter -ident -working-tree-encoding\n');
    // Upstream's objects, so `git am --3way` finds the blobs a patch was made against.
    const objects = mirrorObjects(plan.dep.meta.mirror);
    if (objects) fs.writeFileSync(path.join(gitDir, 'objects', 'info', 'alternates'), `${objects}\n`);

    fs.mkdirSync(path.dirname(out), { recursive: true });
    await fs.promises.cp(plan.treeDir, out, {
      recursive: true,
      verbatimSymlinks: true,
      mode: fs.constants.COPYFILE_FICLONE,
      filter: (src) => path.basename(src) !== '.git',
    });
    const add = await g(['add', '-A', '-f', '.']);
    if (add.code !== 0) return { ok: false, error: `git add of the upstream tree failed: ${firstLine(add.stderr)}` };
    const base = await g(['commit', '-q', '--allow-empty', '--no-verify', '-m', 'upstream']);
    if (base.code !== 0) return { ok: false, error: `committing the upstream tree failed: ${firstLine(base.stderr)}` };

    // The log is replayed on cache hits, possibly for another upstream commit with the same tree:
    // it names only what the key stands for (the commit is in the notes, made fresh every build).
    say(`patching the tree of '${plan.depId}' with ${plan.seriesRel} (${plan.patches.length} patch${plan.patches.length === 1 ? '' : 'es'})`);
    const applied: { abs: string; strip: number; mail: boolean }[] = [];
    for (const [i, p] of plan.patches.entries()) {
      if (ctx.signal.aborted) return cancelled();
      if (p.status === 'upstream') {
        say(`skipped ${p.name}: already upstream`);
        continue;
      }
      const r = p.mail
        ? await g(['am', '--3way', `-p${p.strip}`, p.abs])
        : await g(['apply', '--3way', `-p${p.strip}`, p.abs]);
      if (ctx.signal.aborted) return cancelled();
      let ok = r.code === 0;
      if (ok && !p.mail) ok = (await g(['commit', '-q', '--allow-empty', '--no-verify', '-m', p.name])).code === 0;
      if (!ok) {
        const unmerged = (await g(['diff', '--name-only', '--diff-filter=U', '-z'])).stdout.split('\0').filter(Boolean);
        // No conflict markers (no base blobs for a 3-way merge): ask git which hunks fail, against the tree as it was.
        const check = unmerged.length === 0 ? (await g(['apply', '--check', '-v', `-p${p.strip}`, p.abs])).stderr : '';
        const report = conflictReport({
          patch: { name: p.name, abs: p.abs, strip: p.strip, mail: p.mail, text: p.text, index: i + 1, total: plan.patches.length },
          seriesRel: plan.seriesRel,
          upstream: {
            depId: plan.depId,
            treeDir: plan.treeDir,
            ...pick(plan.dep.meta, ['commit', 'subject', 'url', 'mirror']),
          },
          before: applied,
          gitOutput: `${r.stdout}\n${r.stderr}`,
          unmerged,
          workTree: out,
          checkOutput: check,
        });
        ctx.log.write('stderr', `${report}\n`);
        return { ok: false, error: report };
      }
      applied.push({ abs: p.abs, strip: p.strip, mail: p.mail });
      say(`applied ${p.name}${/Falling back to patching base and 3-way merge|Performing three-way merge/.test(r.stdout + r.stderr) ? ' (3-way merge)' : ''}`);
    }
    done = true;
    return { ok: true };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
    // No half-patched tree is left to be mistaken for a result.
    if (!done) fs.rmSync(out, { recursive: true, force: true });
  }
}

/** The objects dir of a mirror (bare or not), if there is one. */
function mirrorObjects(mirror: string | undefined): string | undefined {
  if (!mirror) return undefined;
  for (const dir of [path.join(mirror, 'objects'), path.join(mirror, '.git', 'objects')]) {
    if (fs.existsSync(path.join(dir, 'info')) || fs.existsSync(path.join(dir, 'pack'))) return dir;
  }
  return undefined;
}

function pick(meta: Readonly<Record<string, string>>, keys: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) if (meta[k] !== undefined) out[k] = meta[k]!;
  return out;
}

/** Path relative to the workspace root (posix), or null when outside it. */
function wsRel(root: string, abs: string): string | null {
  const rel = path.relative(root, abs);
  if (rel === '') return '.';
  if (rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) return null;
  return rel.split(path.sep).join('/');
}

function describeReadError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' ? 'not found' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${code ?? (e as Error).message})`;
}
