import fs from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import type { Diagnostic } from '../../diagnostic.js';
import { located } from '../hint.js';
import { matchIncludeGlob } from '../include.js';
import { readText } from '../load-trace.js';
import { listDir } from '../load-trace.js';
import type { LoadTrace } from '../load-trace.js';
import { escapes, isAbsolute, joinRel } from '../paths.js';
import { jsonKeyPos, parseJson } from './json-pos.js';
import { detectPackageManager, type PackageManager } from './manager.js';
import { readPnpmWorkspaceGlobs, type WorkspaceGlobs } from './pnpm-workspace.js';
import { isRecord } from './yaml-data.js';

/** One package of a workspace, as its package.json declares it. */
export interface WorkspacePackage {
  name: string;
  version: string;
  /** Package dir, workspace-relative posix. */
  dir: string;
  /** Its package.json, workspace-relative, and the text read (for positions). */
  file: string;
  text: string;
  scripts: Record<string, string>;
  /**
   * Every package it depends on (dependencies, devDependencies, peer and
   * optional), workspace or not: the key, the field naming it, the specifier
   * written, and the name of the workspace package it links to, if any.
   */
  deps: WorkspaceDep[];
}

/** One dependency of a workspace package. */
export interface WorkspaceDep {
  name: string;
  field: string;
  spec: string;
  /** The workspace package this dependency links to: a `workspace:` specifier's target, else the package of the same name. */
  workspace?: string;
}

/** A workspace: its packages, the package manager that owns it and that manager's lockfile, as read. */
export interface NodeWorkspace {
  packageManager: PackageManager;
  /** The lockfile (workspace-relative) and its text, when there is one; the text is in the load trace. */
  lockfile?: { file: string; text: string };
  /** The root package.json's `resolutions` (yarn): yarn berry locks an overridden dependency under the override. */
  resolutions: Record<string, string>;
  packages: WorkspacePackage[];
}

/** The dependency fields workspace packages are linked through, in the order turbo reads them. */
const DEP_FIELDS = ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies'];

const ROOT_FILE = 'package.json';

/**
 * Reads the workspace at `root` whichever manager owns it (see
 * detectPackageManager): the packages pnpm-workspace.yaml's `packages` globs
 * list for pnpm, else those of the root package.json's `workspaces` (an
 * array, or `{packages: [...]}`), as npm and both yarns read them; `!`
 * excludes; a dir counts when it has a package.json. Also reads the
 * manager's lockfile, so the lockfile digests need no second read. Every
 * file read goes into `trace` (and each glob with its matches, each file
 * looked for and missing) so the workspace memo notices an added, removed or
 * edited package, lockfile or manager. Mistakes are located in the file they
 * are in; `workspace:` specifiers must name a workspace package.
 */
export function readWorkspace(root: string, diagnostics: Diagnostic[], trace: LoadTrace): NodeWorkspace | undefined {
  const rootJson = readPackageJson(root, ROOT_FILE, diagnostics, trace);
  if (!rootJson) return undefined;
  const detected = detectPackageManager(root, ROOT_FILE, rootJson.text, rootJson.json.packageManager, diagnostics, trace);
  if (!detected) return undefined;
  const { packageManager } = detected;
  const source = packageManager === 'pnpm' ? readPnpmWorkspaceGlobs(root, diagnostics, trace) : packageJsonGlobs(rootJson, diagnostics);
  if (!source) return undefined;
  const packages = readPackages(root, source, diagnostics, trace);
  linkWorkspaceDeps(packages, packageManager, diagnostics);
  const resolutions = isRecord(rootJson.json.resolutions) ? stringValues(rootJson.json.resolutions) : {};
  if (detected.lockfile === undefined) return { packageManager, resolutions, packages };
  const read = readText(path.join(root, detected.lockfile));
  if ('error' in read) {
    diagnostics.push({ message: `cannot read ${detected.lockfile}: ${read.error}` });
    return undefined;
  }
  trace.texts.set(detected.lockfile, read.text);
  return { packageManager, lockfile: { file: detected.lockfile, text: read.text }, resolutions, packages };
}

/** The root package.json's `workspaces` globs (npm and yarn), or a located diagnostic. */
function packageJsonGlobs(rootJson: { text: string; json: Record<string, unknown> }, diagnostics: Diagnostic[]): WorkspaceGlobs | undefined {
  const globs = workspaceGlobs(rootJson.json.workspaces);
  if (!globs) {
    const hint = 'npm and yarn workspaces are listed in the root package.json, e.g. "workspaces": ["packages/*"]';
    diagnostics.push(located(jsonKeyPos(ROOT_FILE, rootJson.text, ['workspaces']), "expected 'workspaces' to be a list of globs", hint));
    return undefined;
  }
  return { globs, posOf: (glob) => jsonKeyPos(ROOT_FILE, rootJson.text, ['workspaces', glob]) };
}

/** The packages in the dirs the globs match, sorted by dir; each name once. */
function readPackages(root: string, source: WorkspaceGlobs, diagnostics: Diagnostic[], trace: LoadTrace): WorkspacePackage[] {
  const { globs } = source;
  const excluded = globs.filter((g) => g.startsWith('!')).map((g) => picomatch(joinRel('', g.slice(1))));
  const dirs = new Set<string>();
  for (const glob of globs.filter((g) => !g.startsWith('!'))) {
    const pattern = joinRel(glob, 'package.json');
    if (isAbsolute(glob) || escapes(pattern)) {
      diagnostics.push(located(source.posOf(glob), `workspace '${glob}' is outside the workspace root`));
      continue;
    }
    for (const m of packageJsonsMatching(root, pattern, trace)) {
      const dir = path.posix.dirname(m);
      if (dir !== '.' && !excluded.some((isExcluded) => isExcluded(dir))) dirs.add(dir);
    }
  }
  const packages: WorkspacePackage[] = [];
  const byName = new Map<string, WorkspacePackage>();
  for (const dir of [...dirs].sort()) {
    const file = `${dir}/package.json`;
    const read = readPackageJson(root, file, diagnostics, trace);
    if (!read) continue;
    const pkg = toPackage(dir, file, read.text, read.json, diagnostics);
    if (!pkg) continue;
    const first = byName.get(pkg.name);
    if (first) {
      diagnostics.push(located(jsonKeyPos(file, read.text, ['name']), `duplicate workspace package name '${pkg.name}'`, `also the name of ${first.file}`));
      continue;
    }
    byName.set(pkg.name, pkg);
    packages.push(pkg);
  }
  return packages;
}

/**
 * Sets each dependency's `workspace`: a `workspace:` specifier (pnpm, yarn)
 * must name a workspace package, by the dependency's name (`workspace:*`,
 * `workspace:^1.2.0`), an alias (pnpm's `workspace:lib@*`) or a path (pnpm:
 * from the package's dir; yarn: from the root); any other specifier links to
 * the workspace package of the same name, as npm links by name.
 */
function linkWorkspaceDeps(packages: WorkspacePackage[], packageManager: PackageManager, diagnostics: Diagnostic[]): void {
  const byName = new Map(packages.map((p) => [p.name, p]));
  const byDir = new Map(packages.map((p) => [p.dir, p]));
  for (const pkg of packages) {
    for (const dep of pkg.deps) {
      if (!dep.spec.startsWith('workspace:')) {
        if (byName.has(dep.name)) dep.workspace = dep.name;
        continue;
      }
      const target = dep.spec.slice('workspace:'.length);
      const alias = target.lastIndexOf('@');
      const isPath = target.startsWith('.') || target.startsWith('/') || (alias <= 0 && target.includes('/'));
      const linked = isPath
        ? byDir.get(joinRel(packageManager === 'pnpm' ? pkg.dir : '', target))
        : byName.get(alias > 0 ? target.slice(0, alias) : dep.name);
      if (linked) {
        dep.workspace = linked.name;
        continue;
      }
      const hint = isPath ? 'the path must be a workspace package dir' : `workspace packages: ${[...byName.keys()].sort().join(', ') || 'none'}`;
      diagnostics.push(located(jsonKeyPos(pkg.file, pkg.text, [dep.field, dep.name]), `'${dep.name}': "${dep.spec}" names no workspace package`, hint));
    }
  }
}

/** Never searched for packages, as for build files. */
const UNSEARCHED = new Set(['node_modules/', '.git/', '.kiln/']);

/**
 * The package.json files a workspace glob names, noted in `trace`. The
 * common `dir/*` is a listing of dir, which the workspace memo re-checks
 * with one readdir (plus the package.json files, hashed anyway), instead of
 * re-running the glob over a thousand packages on every build.
 */
function packageJsonsMatching(root: string, pattern: string, trace: LoadTrace): string[] {
  const dir = path.posix.dirname(path.posix.dirname(pattern));
  const simple = path.posix.basename(path.posix.dirname(pattern)) === '*' && !picomatch.scan(dir).isGlob;
  if (!simple) {
    const matches = matchIncludeGlob(root, pattern);
    trace.globs.push({ pattern, matches });
    return matches;
  }
  const base = dir === '.' ? '' : dir;
  const entries = listDir(root, base);
  trace.dirs.push({ dir: base, entries });
  const matches: string[] = [];
  for (const entry of entries) {
    if (!entry.endsWith('/') || UNSEARCHED.has(entry)) continue;
    const file = joinRel(base, `${entry}package.json`);
    if (fs.existsSync(path.join(root, file))) matches.push(file);
    else trace.absent.push(file);
  }
  return matches;
}

function workspaceGlobs(raw: unknown): string[] | undefined {
  const list = Array.isArray(raw) ? raw : isRecord(raw) && Array.isArray(raw.packages) ? raw.packages : undefined;
  return list?.every((g): g is string => typeof g === 'string' && g !== '') ? list : undefined;
}

function readPackageJson(
  root: string,
  file: string,
  diagnostics: Diagnostic[],
  trace: LoadTrace,
): { text: string; json: Record<string, unknown> } | undefined {
  const read = readText(path.join(root, file));
  if ('error' in read) {
    diagnostics.push({ message: `cannot read ${file}: ${read.error}`, hint: 'a workspace root has a package.json' });
    return undefined;
  }
  trace.texts.set(file, read.text);
  const parsed = parseJson(file, read.text);
  if ('error' in parsed) {
    diagnostics.push(located(parsed.pos, parsed.error));
    return undefined;
  }
  if (!isRecord(parsed.value)) {
    diagnostics.push(located({ file, line: 1, column: 1 }, 'a package.json must hold a JSON object'));
    return undefined;
  }
  return { text: read.text, json: parsed.value };
}

function toPackage(dir: string, file: string, text: string, json: Record<string, unknown>, diagnostics: Diagnostic[]): WorkspacePackage | undefined {
  const at = (...keys: string[]) => jsonKeyPos(file, text, keys);
  if (typeof json.name !== 'string' || json.name === '') {
    diagnostics.push(located(at('name'), 'a workspace package needs a "name"', 'npm identifies workspace packages by name'));
    return undefined;
  }
  const scripts: Record<string, string> = {};
  if (json.scripts !== undefined) {
    if (!isRecord(json.scripts)) {
      diagnostics.push(located(at('scripts'), 'expected "scripts" to be an object of script name to command'));
    } else {
      for (const [name, cmd] of Object.entries(json.scripts)) {
        if (typeof cmd === 'string') scripts[name] = cmd;
        else diagnostics.push(located(at('scripts', name), `script '${name}' must be a string command`));
      }
    }
  }
  const deps = new Map<string, WorkspaceDep>();
  for (const field of DEP_FIELDS) {
    const value = json[field];
    if (value === undefined) continue;
    if (!isRecord(value)) {
      diagnostics.push(located(at(field), `expected "${field}" to be an object of package name to version`));
      continue;
    }
    for (const [name, spec] of Object.entries(value)) {
      if (typeof spec !== 'string') diagnostics.push(located(at(field, name), `expected the version of '${name}' to be a string`));
      else if (!deps.has(name)) deps.set(name, { name, field, spec });
    }
  }
  const version = typeof json.version === 'string' ? json.version : '';
  return { name: json.name, version, dir, file, text, scripts, deps: [...deps.values()] };
}

const stringValues = (record: Record<string, unknown>): Record<string, string> =>
  Object.fromEntries(Object.entries(record).filter((e): e is [string, string] => typeof e[1] === 'string'));

