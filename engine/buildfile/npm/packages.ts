import fs from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import type { Diagnostic } from '../../diagnostic.js';
import { located } from '../hint.js';
import { matchIncludeGlob, readText } from '../include.js';
import { listDir } from '../snapshot.js';
import type { LoadTrace } from '../load.js';
import { escapes, isAbsolute, joinRel } from '../paths.js';
import { jsonKeyPos, parseJson } from './json-pos.js';

/** One package of an npm workspace, as its package.json declares it. */
export interface WorkspacePackage {
  name: string;
  version: string;
  /** Package dir, workspace-relative posix. */
  dir: string;
  /** Its package.json, workspace-relative, and the text read (for positions). */
  file: string;
  text: string;
  scripts: Record<string, string>;
  /** Every package it depends on (dependencies, devDependencies, peer and optional), workspace or not, and the field naming it. */
  deps: { name: string; field: string }[];
}

/** The dependency fields npm links workspace packages through, in the order turbo reads them. */
const DEP_FIELDS = ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies'];

/**
 * Reads the workspace packages listed by the root package.json's
 * `workspaces` globs (an array, or `{packages: [...]}`; `!` excludes), as
 * npm does: each glob names package dirs, a dir counts when it has a
 * package.json. Every file read goes into `trace` (and each glob with its
 * matches) so the workspace memo notices an added, removed or edited package.
 * Mistakes are located in the package.json they are in.
 */
export function readNpmWorkspace(root: string, diagnostics: Diagnostic[], trace: LoadTrace): WorkspacePackage[] {
  const rootFile = 'package.json';
  const rootJson = readPackageJson(root, rootFile, diagnostics, trace);
  if (!rootJson) return [];
  const globs = workspaceGlobs(rootJson.json.workspaces);
  if (!globs) {
    const hint = 'npm workspaces are listed in the root package.json, e.g. "workspaces": ["packages/*"]';
    diagnostics.push(located(jsonKeyPos(rootFile, rootJson.text, ['workspaces']), "expected 'workspaces' to be a list of globs", hint));
    return [];
  }
  const excluded = globs.filter((g) => g.startsWith('!')).map((g) => picomatch(joinRel('', g.slice(1))));
  const dirs = new Set<string>();
  for (const glob of globs.filter((g) => !g.startsWith('!'))) {
    const pattern = joinRel(glob, 'package.json');
    if (isAbsolute(glob) || escapes(pattern)) {
      diagnostics.push(located(jsonKeyPos(rootFile, rootJson.text, ['workspaces', glob]), `workspace '${glob}' is outside the workspace root`));
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
    diagnostics.push({ message: `cannot read ${file}: ${read.error}`, hint: 'an npm workspace root has a package.json with "workspaces"' });
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
  const deps = new Map<string, string>();
  for (const field of DEP_FIELDS) {
    const value = json[field];
    if (value === undefined) continue;
    if (!isRecord(value)) {
      diagnostics.push(located(at(field), `expected "${field}" to be an object of package name to version`));
      continue;
    }
    for (const name of Object.keys(value)) if (!deps.has(name)) deps.set(name, field);
  }
  const version = typeof json.version === 'string' ? json.version : '';
  return { name: json.name, version, dir, file, text, scripts, deps: [...deps].map(([name, field]) => ({ name, field })) };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
