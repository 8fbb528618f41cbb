import path from 'node:path';
import type { Diagnostic } from '../../../diagnostic.js';
import { located } from '../../hint.js';
import { jsonKeyPos, parseJson } from '../json-pos.js';
import type { WorkspacePackage } from '../packages.js';
import { isRecord } from '../yaml-data.js';
import { mayBeMissing, notLocked, type Edge, type Lock } from './lock.js';

/** The fields of a package-lock.json entry whose packages npm installs for it. */
const ENTRY_DEPS = ['dependencies', 'optionalDependencies', 'peerDependencies'];

/**
 * package-lock.json or npm-shrinkwrap.json, lockfileVersion 2 or 3: its
 * `packages` are keyed by install location (`node_modules/a`,
 * `node_modules/a/node_modules/b`, `packages/app/node_modules/b`), and a
 * dependency resolves as node resolves it, to the nearest `node_modules`
 * holding it from the dependant's location upward. Nodes are locations;
 * their labels leave the location out, so a re-hoisting that changes no
 * version changes no digest. A link to a workspace package is left out.
 */
export function npmLock(file: string, text: string, packages: WorkspacePackage[], diagnostics: Diagnostic[]): Lock | undefined {
  const parsed = parseJson(file, text);
  if ('error' in parsed) {
    diagnostics.push(located(parsed.pos, parsed.error));
    return undefined;
  }
  const json = parsed.value;
  const version = isRecord(json) ? json.lockfileVersion : undefined;
  if (!isRecord(json) || (version !== 2 && version !== 3) || !isRecord(json.packages)) {
    const hint = 'kiln reads lockfileVersion 2 and 3 (npm 7 and later): npm install rewrites it';
    diagnostics.push(located(jsonKeyPos(file, text, ['lockfileVersion']), `unsupported ${file}: lockfileVersion ${JSON.stringify(version)}`, hint));
    return undefined;
  }
  const entries = json.packages;
  const entry = (location: string): Record<string, unknown> | undefined => {
    const e = Object.hasOwn(entries, location) ? entries[location] : undefined;
    return isRecord(e) ? e : undefined;
  };
  const workspaceDirs = new Set(packages.map((p) => p.dir));
  /** Where `name` loads from for a package at `from`: a location, null for a workspace package, undefined when nowhere. */
  const resolve = (from: string, name: string): string | null | undefined => {
    for (let dir = from; ; dir = parentDir(dir)) {
      if (path.posix.basename(dir) !== 'node_modules') {
        const location = dir === '' ? `node_modules/${name}` : `${dir}/node_modules/${name}`;
        const e = entry(location);
        if (e) {
          if (e.link !== true) return location;
          return typeof e.resolved !== 'string' ? undefined : workspaceDirs.has(e.resolved) ? null : e.resolved;
        }
      }
      if (dir === '') return undefined;
    }
  };
  return {
    direct(pkg) {
      const edges: Edge[] = [];
      for (const dep of pkg.deps) {
        const location = resolve(pkg.dir, dep.name);
        if (location) edges.push([dep.name, location]);
        else if (location === undefined && !mayBeMissing(dep.field)) notLocked(pkg, dep, file, 'npm install', diagnostics);
      }
      return edges;
    },
    node(key) {
      const e = entry(key) ?? {};
      const at = key.lastIndexOf('node_modules/');
      const name = typeof e.name === 'string' ? e.name : at >= 0 ? key.slice(at + 'node_modules/'.length) : key;
      const label = JSON.stringify([name, e.version ?? '', e.integrity ?? e.resolved ?? '']);
      const deps: Edge[] = [];
      // Bundled dependencies ship inside the package's tarball: npm may lock no entry of their own.
      const bundled = new Set([e.bundleDependencies, e.bundledDependencies].flatMap((b) => (Array.isArray(b) ? b.filter((n): n is string => typeof n === 'string') : [])));
      for (const field of ENTRY_DEPS) {
        const names = e[field];
        if (!isRecord(names)) continue;
        for (const dep of Object.keys(names)) {
          const location = resolve(key, dep);
          if (location) deps.push([dep, location]);
          else if (location === undefined && !mayBeMissing(field) && !bundled.has(dep)) {
            const pos = jsonKeyPos(file, text, ['packages', key, field, dep]);
            diagnostics.push(located(pos, `'${key}' depends on '${dep}', which is not installed where it could load it from`, 'the lockfile is inconsistent: npm install rewrites it'));
          }
        }
      }
      return { label, deps };
    },
  };
}

const parentDir = (dir: string): string => {
  const parent = path.posix.dirname(dir);
  return parent === '.' ? '' : parent;
};
