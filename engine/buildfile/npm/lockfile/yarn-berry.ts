import type { Diagnostic } from '../../../diagnostic.js';
import { located } from '../../hint.js';
import { isRecord, parseYamlData } from '../yaml-data.js';
import { mayBeMissing, notLocked, type Edge, type Lock } from './lock.js';

/**
 * yarn.lock of yarn berry (2 and later; YAML with `__metadata`): entries
 * keyed by every descriptor (`name@npm:^1.0.0`) that resolved to them, each
 * with its `resolution` locator, `checksum` and `dependencies` as
 * descriptors. Workspace packages are entries too (`name@workspace:dir`),
 * whose `dependencies` list the normalised descriptors of their
 * package.json (devDependencies included). A dependency overridden by the
 * root `resolutions` is locked under the override's descriptor instead.
 * Nodes are entry keys.
 */
export function yarnBerryLock(
  file: string,
  text: string,
  resolutions: Record<string, string>,
  diagnostics: Diagnostic[],
): Lock | undefined {
  const yaml = parseYamlData(file, text, diagnostics);
  if (!yaml) return undefined;
  const lock = yaml.data;
  if (!isRecord(lock) || !isRecord(lock.__metadata)) {
    diagnostics.push(located(yaml.posOf([]), `cannot read ${file}: expected a yarn berry lockfile with __metadata`, 'yarn install rewrites it'));
    return undefined;
  }
  const byDescriptor = new Map<string, string>();
  const workspaces = new Map<string, string>();
  for (const [key, entry] of Object.entries(lock)) {
    if (key === '__metadata' || !isRecord(entry)) continue;
    for (const descriptor of key.split(', ')) byDescriptor.set(descriptor, key);
    const at = typeof entry.resolution === 'string' ? entry.resolution.indexOf('@workspace:', 1) : -1;
    if (at > 0) workspaces.set((entry.resolution as string).slice(at + '@workspace:'.length), key);
  }
  const entry = (key: string): Record<string, unknown> => lock[key] as Record<string, unknown>;
  const workspaceKeys = new Set(workspaces.values());
  /** The entry `name` at descriptor range `range` resolved to: null for a workspace package, undefined when unlocked. */
  const resolve = (name: string, range: unknown): string | null | undefined => {
    const override = resolutions[name] ?? resolutions[`**/${name}`];
    // yarn 4 writes ranges with their protocol (`npm:^1.0.0`) in both places; yarn 2 and 3 write an
    // entry's dependency ranges bare (`^1.0.0`) and the descriptors with `npm:`.
    const descriptor = (r: string) => byDescriptor.get(`${name}@${r}`) ?? (/^[a-z]+:/.test(r) ? undefined : byDescriptor.get(`${name}@npm:${r}`));
    const key = descriptor(String(range)) ?? (override !== undefined ? descriptor(override) : undefined);
    return key === undefined ? undefined : workspaceKeys.has(key) ? null : key;
  };
  /** The external dependencies of the entry `key`, each unlocked required one a diagnostic. */
  const depsOf = (key: string): Edge[] => {
    const e = entry(key);
    const meta = isRecord(e.dependenciesMeta) ? e.dependenciesMeta : {};
    const edges: Edge[] = [];
    for (const [name, range] of Object.entries(isRecord(e.dependencies) ? e.dependencies : {})) {
      const target = resolve(name, range);
      if (target) edges.push([name, target]);
      else if (target === undefined && !(isRecord(meta[name]) && meta[name].optional === true)) {
        diagnostics.push(located(yaml.posOf([key, 'dependencies', name]), `'${name}@${String(range)}' has no entry in ${file}`, 'the lockfile is inconsistent: yarn install rewrites it'));
      }
    }
    return edges;
  };
  return {
    direct(pkg) {
      const key = workspaces.get(pkg.dir);
      if (key === undefined) {
        diagnostics.push(located(yaml.posOf([]), `${file} has no entry for workspace '${pkg.dir}'`, 'the lockfile is out of date: run yarn install'));
        return undefined;
      }
      const locked = entry(key).dependencies;
      for (const dep of pkg.deps) {
        if (!mayBeMissing(dep.field) && !(isRecord(locked) && Object.hasOwn(locked, dep.name))) notLocked(pkg, dep, file, 'yarn install', diagnostics);
      }
      return depsOf(key);
    },
    node(key) {
      const e = entry(key);
      return { label: JSON.stringify([e.resolution ?? key, e.checksum ?? '']), deps: depsOf(key) };
    },
  };
}
