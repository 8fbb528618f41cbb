import type { Diagnostic, SourcePos } from '../../diagnostic.js';
import type { PackageTurboConfig, TurboConfig } from './turbo-json.js';
import { TURBO_DEFAULT, type ListField, type TaskEntry, type TaskRef, type TurboGlob } from './turbo-task.js';

/** The package name turbo gives the workspace root: `//#build` is the root's build task. */
export const ROOT_PACKAGE = '//';

/** A task's effective definition for one package: every turbo.json that applies, merged, with turbo's defaults. */
export interface TurboTask {
  dependsOn: TaskRef[];
  /** Tasks turbo runs alongside this one (no edge), e.g. an API server next to a dev server. */
  with: TaskRef[];
  /** Globs turbo caches; none unless written (turbo 2, and turbo 1 since 1.7). */
  outputs: TurboGlob[];
  inputs: {
    /** The package's default inputs (its files git does not ignore): `inputs` absent, empty, or holding `$TURBO_DEFAULT$`. */
    default: boolean;
    globs: TurboGlob[];
  };
  /** Env patterns in the key (`NEXT_PUBLIC_*`, `!SECRET`): see engine/env-patterns.ts. */
  env: string[];
  /** Env patterns the command may read, unhashed. */
  passThroughEnv: string[];
  cache: boolean;
  persistent: boolean;
  /** The entry written last in the chain (the one a mistake most likely sits in). */
  pos: SourcePos;
}

/**
 * The effective definition of `task` in `pkg`, as turbo resolves it: the
 * root's `pkg#task` entry wins whole over its `task` entry (the root package
 * has only `//#task` entries), then each Package Configuration in the
 * package's extends chain is merged over it, fields present replacing,
 * `$TURBO_EXTENDS$` arrays appending; a task-level `extends: false` drops
 * everything before it. Undefined when no turbo.json defines the task for
 * the package: turbo would not run it (or, when asked to, fails).
 */
export function taskFor(config: TurboConfig, packageConfigs: ReadonlyMap<string, PackageTurboConfig>, pkg: string, task: string): TurboTask | undefined {
  const chain = [rootEntry(config, pkg, task), ...packageChain(packageConfigs, pkg).map((c) => c.tasks.get(task))];
  const cut = lastIndexWhere(chain, (e) => e?.extends === false);
  const kept = cut === -1 ? chain : [hasConfig(chain[cut]!) ? chain[cut] : undefined, ...chain.slice(cut + 1)];
  const entries = kept.filter((e): e is TaskEntry => e !== undefined);
  return entries.length === 0 ? undefined : finish(entries.reduce(mergeEntry));
}

/**
 * The tasks `kiln build` runs in a turbo repo: the names given on the command
 * line, like `turbo run build test`, or `build` when none is (turbo requires
 * one; `build` is what a turbo repo's build means). A name no turbo.json
 * defines is an error, as in turbo; `web#build` names one package's task.
 */
export function requestedTasks(config: TurboConfig, packageConfigs: ReadonlyMap<string, PackageTurboConfig>, names: readonly string[], diagnostics: Diagnostic[]): string[] {
  const wanted = names.length > 0 ? [...new Set(names)] : ['build'];
  for (const name of wanted) {
    if (isDefined(config, packageConfigs, name)) continue;
    diagnostics.push({ pos: config.pos, message: `no task '${name}' in ${config.file} or any package's turbo.json`, hint: `add "${name}": {} to its tasks` });
  }
  return wanted;
}

/**
 * Checks the extends chains of Package Configurations, which only make sense
 * together: each named package must have a turbo.json of its own, and no
 * chain may come back to where it started. Call it before taskFor.
 */
export function checkPackageConfigs(packageConfigs: ReadonlyMap<string, PackageTurboConfig>, diagnostics: Diagnostic[]): void {
  for (const [name, config] of packageConfigs) {
    for (const ext of config.extends) {
      if (!packageConfigs.has(ext.name)) diagnostics.push({ pos: ext.pos, message: `extends '${ext.name}', which has no turbo.json`, hint: 'name a workspace package that has a turbo.json, by its package.json name' });
    }
    const cycle = extendsCycle(packageConfigs, name, []);
    if (cycle && cycle[0] === name) diagnostics.push({ pos: config.pos, message: `extends goes round in a circle: ${[...cycle, name].join(' -> ')}`, hint: 'remove one of these extends' });
  }
}

function rootEntry(config: TurboConfig, pkg: string, task: string): TaskEntry | undefined {
  const scoped = config.tasks.get(`${pkg}#${task}`);
  return scoped ?? (pkg === ROOT_PACKAGE ? undefined : config.tasks.get(task));
}

/** The package's Package Configurations in merge order: those it extends (depth first, in order), then its own. */
function packageChain(packageConfigs: ReadonlyMap<string, PackageTurboConfig>, pkg: string, seen = new Set<string>()): PackageTurboConfig[] {
  const own = packageConfigs.get(pkg);
  if (!own || seen.has(pkg)) return [];
  seen.add(pkg);
  return [...own.extends.flatMap((e) => packageChain(packageConfigs, e.name, seen)), own];
}

function extendsCycle(packageConfigs: ReadonlyMap<string, PackageTurboConfig>, pkg: string, path: string[]): string[] | undefined {
  if (path.includes(pkg)) return path.slice(path.indexOf(pkg));
  for (const e of packageConfigs.get(pkg)?.extends ?? []) {
    const cycle = extendsCycle(packageConfigs, e.name, [...path, pkg]);
    if (cycle) return cycle;
  }
  return undefined;
}

/** `extends: false` alone removes the task; with other fields it starts a fresh definition. */
const hasConfig = (e: TaskEntry): boolean => Object.keys(e).some((k) => k !== 'pos' && k !== 'extends');

function lastIndexWhere<T>(xs: readonly T[], test: (x: T) => boolean): number {
  for (let i = xs.length - 1; i >= 0; i--) if (test(xs[i]!)) return i;
  return -1;
}

/** `over` merged onto `base`: fields present in `over` replace, `$TURBO_EXTENDS$` lists append. */
function mergeEntry(base: TaskEntry, over: TaskEntry): TaskEntry {
  const out: TaskEntry = { ...base, ...over };
  for (const key of ['dependsOn', 'with', 'outputs', 'inputs', 'env', 'passThroughEnv'] as const) {
    const b = base[key] as ListField<unknown> | undefined;
    const o = over[key] as ListField<unknown> | undefined;
    if (o?.extend) (out[key] as ListField<unknown>) = { items: [...(b?.items ?? []), ...o.items], extend: b?.extend ?? false };
  }
  return out;
}

function finish(e: TaskEntry): TurboTask {
  const inputs = e.inputs?.items ?? [];
  return {
    dependsOn: e.dependsOn?.items ?? [],
    with: e.with?.items ?? [],
    outputs: e.outputs?.items ?? [],
    inputs: { default: inputs.length === 0 || inputs.includes(TURBO_DEFAULT), globs: inputs.filter((i): i is TurboGlob => i !== TURBO_DEFAULT) },
    env: e.env?.items ?? [],
    passThroughEnv: e.passThroughEnv?.items ?? [],
    cache: e.cache ?? true,
    persistent: e.persistent ?? false,
    pos: e.pos,
  };
}

function isDefined(config: TurboConfig, packageConfigs: ReadonlyMap<string, PackageTurboConfig>, name: string): boolean {
  if (config.tasks.has(name)) return true;
  const hash = name.indexOf('#');
  if (hash !== -1) return taskFor(config, packageConfigs, name.slice(0, hash), name.slice(hash + 1)) !== undefined;
  return [...config.tasks.keys()].some((k) => k.endsWith(`#${name}`)) || [...packageConfigs.values()].some((c) => c.tasks.has(name));
}
