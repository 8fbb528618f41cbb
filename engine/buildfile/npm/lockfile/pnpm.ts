import type { Diagnostic } from '../../../diagnostic.js';
import { located } from '../../hint.js';
import { isRecord, parseYamlData } from '../yaml-data.js';
import { mayBeMissing, notLocked, type Edge, type Lock } from './lock.js';

/** The importer sections pnpm resolves (a workspace package's peers it auto-installs appear under dependencies). */
const IMPORTER_DEPS = ['dependencies', 'devDependencies', 'optionalDependencies'];
const SNAPSHOT_DEPS = ['dependencies', 'optionalDependencies'];

/**
 * pnpm-lock.yaml, lockfileVersion 6 (pnpm 8) or 9 (pnpm 9 and 10):
 * `importers[dir]` gives each workspace package's resolved versions
 * (`1.2.3`, `1.2.3(peer@2.0.0)`, `link:../lib` for a workspace package, or
 * `real-name@1.2.3` for an `npm:` alias); v9 keeps each package's
 * dependencies in `snapshots` (keyed `name@version(peers)`) and its
 * integrity in `packages` (keyed without the peers), v6 both in `packages`
 * (keyed `/name@version(peers)`). Nodes are snapshot keys, so a different
 * peer resolution is a different node.
 */
export function pnpmLock(file: string, text: string, diagnostics: Diagnostic[]): Lock | undefined {
  const yaml = parseYamlData(file, text, diagnostics);
  if (!yaml) return undefined;
  const lock = yaml.data;
  const version = isRecord(lock) ? String(lock.lockfileVersion) : '';
  const major = /^(\d+)(\.|$)/.exec(version)?.[1];
  const v9 = major === '9';
  if (!isRecord(lock) || !(v9 || major === '6')) {
    const hint = 'kiln reads lockfileVersion 6.x (pnpm 8) and 9.x (pnpm 9 and 10): pnpm install rewrites it';
    diagnostics.push(located(yaml.posOf(['lockfileVersion']), `unsupported ${file}: lockfileVersion ${JSON.stringify(version)}`, hint));
    return undefined;
  }
  const table = (name: string): Record<string, unknown> => (isRecord(lock[name]) ? lock[name] : {});
  const importers = table('importers');
  const infos = table('packages');
  const snapshotsName = v9 ? 'snapshots' : 'packages';
  const snapshots = table(snapshotsName);
  const record = (parent: Record<string, unknown>, key: string): Record<string, unknown> | undefined => {
    const value = Object.hasOwn(parent, key) ? parent[key] : undefined;
    return isRecord(value) ? value : value === null ? {} : undefined;
  };
  /** The snapshot a dependency `name` at `resolved` is: `name@resolved`, or `resolved` itself for an alias; null for a link. */
  const snapshotOf = (name: string, resolved: unknown): string | null | undefined => {
    if (typeof resolved !== 'string') return undefined;
    if (resolved.startsWith('link:')) return null;
    return [v9 ? `${name}@${resolved}` : `/${name}@${resolved}`, resolved].find((key) => record(snapshots, key) !== undefined);
  };
  const missing = (at: string[], what: string): void => {
    diagnostics.push(located(yaml.posOf(at), `${what} has no entry in ${file}`, 'the lockfile is inconsistent: pnpm install rewrites it'));
  };
  return {
    direct(pkg) {
      const importer = record(importers, pkg.dir);
      if (!importer) {
        diagnostics.push(located(yaml.posOf(['importers']), `${file} has no importer '${pkg.dir}'`, 'the lockfile is out of date: run pnpm install'));
        return undefined;
      }
      const edges: Edge[] = [];
      const locked = new Set<string>();
      for (const section of IMPORTER_DEPS) {
        for (const [name, dep] of Object.entries(record(importer, section) ?? {})) {
          locked.add(name);
          const resolved = isRecord(dep) ? dep.version : undefined;
          const key = snapshotOf(name, resolved);
          if (key) edges.push([name, key]);
          else if (key === undefined) missing(['importers', pkg.dir, section, name], `'${name}' ${String(resolved)}`);
        }
      }
      for (const dep of pkg.deps) if (!locked.has(dep.name) && !mayBeMissing(dep.field)) notLocked(pkg, dep, file, 'pnpm install', diagnostics);
      return edges;
    },
    node(key) {
      const snapshot = record(snapshots, key) ?? {};
      const base = key.indexOf('(', 1) === -1 ? key : key.slice(0, key.indexOf('(', 1));
      const resolution = record(record(infos, v9 ? base : key) ?? {}, 'resolution') ?? {};
      const label = JSON.stringify([key, resolution.integrity ?? resolution.tarball ?? resolution.commit ?? JSON.stringify(resolution)]);
      const deps: Edge[] = [];
      for (const field of SNAPSHOT_DEPS) {
        for (const [name, resolved] of Object.entries(record(snapshot, field) ?? {})) {
          const dep = snapshotOf(name, resolved);
          if (dep) deps.push([name, dep]);
          else if (dep === undefined && field === 'dependencies') missing([snapshotsName, key, field, name], `'${name}' ${String(resolved)}`);
        }
      }
      return { label, deps };
    },
  };
}
