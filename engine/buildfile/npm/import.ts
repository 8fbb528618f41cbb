import path from 'node:path';
import type { Diagnostic, SourcePos } from '../../diagnostic.js';
import type { NpmStep } from '../../../rules/npm-script.js';
import { located } from '../hint.js';
import type { LoadTrace } from '../load-trace.js';
import { NODE_ID } from '../names.js';
import type { ParsedNode } from '../node.js';
import type { DepRef, InputPattern } from '../types.js';
import { gitignoreExcludes, gitignoreReader } from './gitignore.js';
import { jsonKeyPos } from './json-pos.js';
import { lockfileDigests } from './lockfile/digests.js';
import { readWorkspace, type WorkspacePackage } from './packages.js';
import { fromPackage, type TaskDef, type TaskSource } from './tasks.js';
import type { TaskRef } from './turbo-task.js';

/** The id of a package's script node, as Turborepo writes tasks: `@scope/pkg#build`. */
export const scriptNodeId = (pkg: string, script: string): string => `${pkg}#${script}`;

/** Makes the task source once the workspace's packages are known (turbo.json has one file per package). */
export type SourceFactory = (packages: WorkspacePackage[], diagnostics: Diagnostic[], trace: LoadTrace) => TaskSource | undefined;

/**
 * Turns the packages of the npm, pnpm or yarn workspace at `root` into
 * nodes, one per package and task that the package has a script for and
 * the source defines: the requested tasks and, as turbo does, those their
 * dependsOn reach.
 *
 * - deps: for `^build`, the `build` nodes of the package's workspace
 *   dependencies; for `build`, the package's own; for `web#build`, that
 *   package's. A package lacking the script is passed through (its
 *   dependencies' nodes are used), so a chain of packages keeps its order
 *   when a middle one has nothing to build.
 * - inputs: every file of the package dir except node_modules, the outputs
 *   of its tasks, nested workspace packages and what .gitignore files
 *   ignore (or the task's own input globs, plus package.json); the files
 *   of every package passed through on the way to its deps: a `lint` that
 *   reads a shared config package without a lint script must rerun when
 *   that config changes (turbo misses this: vercel/turborepo#4041); the
 *   source's global inputs.
 * - attrs: the script, its pre/post scripts, the package's name and
 *   version, and the lockfile digest of its external dependencies and
 *   those of the packages passed through (all in the key; see
 *   rules/npm-script.ts).
 */
export function importNpmWorkspace(
  root: string,
  makeSource: SourceFactory,
  diagnostics: Diagnostic[],
  trace: LoadTrace,
): { nodes: ParsedNode[]; warnings: Diagnostic[] } {
  const workspace = readWorkspace(root, diagnostics, trace);
  const packages = workspace?.packages ?? [];
  const source = makeSource(packages, diagnostics, trace);
  if (!workspace || !source) return { nodes: [], warnings: [] };
  const lockWarnings: Diagnostic[] = [];
  const lockDigests = lockfileDigests(workspace, lockWarnings);
  const byName = new Map(packages.map((p) => [p.name, p]));
  for (const task of source.requested) {
    if (!packages.some((p) => Object.hasOwn(p.scripts, task))) {
      diagnostics.push(located(source.pos, `no workspace package has a '${task}' script`, `scripts found: ${scriptNames(packages)}`));
    }
  }

  /** The task's node of `pkg`, or the nodes it passes through to when the package has no such script. */
  const targets = new Map<string, Targets>();
  const inProgress = new Set<string>();
  const wanted: [WorkspacePackage, string][] = [];
  const targetsOf = (pkg: WorkspacePackage, task: string, pos: DepRef['pos']): Targets => {
    const id = scriptNodeId(pkg.name, task);
    const def = source.definition(pkg, task);
    if (Object.hasOwn(pkg.scripts, task) && def) {
      if (!targets.has(id)) {
        targets.set(id, { refs: [], through: [] });
        wanted.push([pkg, task]);
      }
      return { refs: [{ id, pos }], through: [] };
    }
    let found = targets.get(id);
    if (!found) {
      if (inProgress.has(id)) return { refs: [], through: [pkg] }; // a cycle through packages without the script: nothing to order
      inProgress.add(id);
      const deps = def ? depsOf(pkg, task, def) : { refs: [], through: [] };
      found = { refs: deps.refs, through: [pkg, ...deps.through.filter((p) => p !== pkg)] };
      inProgress.delete(id);
      targets.set(id, found);
    }
    return found;
  };
  const depsOf = (pkg: WorkspacePackage, task: string, def: TaskDef): Targets => {
    const refs = new Map<string, DepRef>();
    const through = new Set<WorkspacePackage>();
    const add = (t: Targets) => {
      for (const ref of t.refs) if (!refs.has(ref.id)) refs.set(ref.id, ref);
      for (const p of t.through) through.add(p);
    };
    for (const d of def.dependsOn) {
      for (const [target, pos] of refTargets(pkg, task, d)) add(targetsOf(target, d.task, pos));
    }
    return { refs: [...refs.values()], through: [...through].filter((p) => p !== pkg) };
  };
  /** The packages a dependsOn entry of `pkg`'s `task` names, with where each is written. */
  const refTargets = (pkg: WorkspacePackage, task: string, d: TaskRef): [WorkspacePackage, SourcePos][] => {
    if (d.kind === 'upstream') {
      return pkg.deps
        .map((dep) => [dep.workspace !== undefined ? byName.get(dep.workspace) : undefined, jsonKeyPos(pkg.file, pkg.text, [dep.field, dep.name])] as const)
        .filter((t): t is [WorkspacePackage, SourcePos] => t[0] !== undefined && t[0] !== pkg);
    }
    if (d.kind === 'self') return d.task === task ? [] : [[pkg, jsonKeyPos(pkg.file, pkg.text, ['scripts', task])]];
    const named = byName.get(d.pkg!);
    if (!named) diagnostics.push(located(d.pos, `'${d.pkg}#${d.task}' names no workspace package '${d.pkg}'`, `packages: ${[...byName.keys()].slice(0, 8).join(', ')}`));
    return named ? [[named, d.pos]] : [];
  };

  for (const task of source.requested) for (const pkg of packages) targetsOf(pkg, task, source.pos);

  const readGitignore = gitignoreReader(root, trace);
  const nestedPackages = nestedPackageDirs(packages);
  /** What of a package dir is not its content: installs, its tasks' outputs, nested packages, what git ignores. Once per package. */
  const excludesOf = new Map<WorkspacePackage, string[]>();
  const packageExcludes = (p: WorkspacePackage): string[] => {
    let excludes = excludesOf.get(p);
    if (!excludes) {
      const outputs = Object.keys(p.scripts).flatMap((s) => source.definition(p, s)?.outputs ?? []).filter((o) => !o.startsWith('!'));
      excludes = [
        ...new Set([
          'node_modules/**',
          ...outputs.flatMap((o) => [o, `${o}/**`]),
          ...nestedPackages(p).flatMap((d) => [d, `${d}/**`]),
          ...gitignoreExcludes(p.dir, readGitignore),
        ]),
      ];
      excludesOf.set(p, excludes);
    }
    return excludes;
  };
  /** The default inputs of package `p`, written from the dir of `from`. */
  const packageInputs = (p: WorkspacePackage, from: WorkspacePackage): string[] => {
    const prefix = p === from ? '' : `${path.posix.relative(from.dir, p.dir)}/`;
    return [`${prefix}**`, ...packageExcludes(p).map((g) => `!${prefix}${g}`)];
  };

  const nodes: ParsedNode[] = [];
  /** Each package's nodes, so each can name its siblings (writeScan) once all are made. */
  const byPackage = new Map<WorkspacePackage, ParsedNode['decl'][]>();
  // Worklist: a node's dependsOn may reach tasks nobody requested (turbo runs those too).
  for (let i = 0; i < wanted.length; i++) {
    const [pkg, task] = wanted[i]!;
    const def = source.definition(pkg, task)!;
    const id = scriptNodeId(pkg.name, task);
    const pos = jsonKeyPos(pkg.file, pkg.text, ['scripts', task]);
    if (!NODE_ID.test(id)) {
      diagnostics.push(located(jsonKeyPos(pkg.file, pkg.text, ['name']), `package name '${pkg.name}' does not make a valid node id ('${id}')`, 'npm package names are lower case letters, digits and - . _ with an optional @scope/'));
      continue;
    }
    if (def.persistent) {
      diagnostics.push(located(def.pos, `task '${id}' is persistent (a long-running process such as a dev server)`, 'kiln build runs tasks that finish: run it with npm or turbo, after kiln builds what it needs'));
      continue;
    }
    const deps = depsOf(pkg, task, def);
    const globs = [
      ...(def.inputs.default ? packageInputs(pkg, pkg) : def.inputs.globs.length > 0 ? ['package.json'] : []),
      ...def.inputs.globs,
      ...deps.through.flatMap((p) => packageInputs(p, pkg)),
      ...source.globalInputs.map((g) => fromPackage(pkg.dir, g)),
    ];
    const externalDeps = Object.fromEntries(
      [pkg, ...deps.through].flatMap((p) => (lockDigests.has(p.dir) ? [[p.name, lockDigests.get(p.dir)!]] : [])),
    );
    const decl: ParsedNode['decl'] = {
      id,
      rule: 'npm-script',
      dir: pkg.dir,
      deps: deps.refs,
      inputs: [...new Set(globs)].map((glob): InputPattern => ({ glob, required: false, pos })),
      outputs: def.outputs,
      ...(source.strictOutputs ? {} : { lenientOutputs: true as const }),
      ...(def.cache ? {} : { noCache: true as const }),
      env: [...new Set([...source.globalEnv, ...def.env])],
      passEnv: [...new Set([...source.globalPassThroughEnv, ...def.passThroughEnv])],
      secretEnv: [],
      toolchain: [],
      uses: [],
      attrs: { package: pkg.name, version: pkg.version, script: task, steps: lifecycle(pkg, task), externalDeps },
      writeScan: { skip: nestedPackages(pkg), siblings: [], declareIn: source.declareIn },
      pos,
      fieldPos: {},
    };
    byPackage.set(pkg, [...(byPackage.get(pkg) ?? []), decl]);
    nodes.push({ decl, outputPos: def.outputs.map(() => def.pos), toolchainPos: [] });
  }
  for (const decls of byPackage.values()) for (const decl of decls) decl.writeScan!.siblings = decls.filter((d) => d !== decl).map((d) => d.id);
  return { nodes, warnings: [...source.warnings, ...lockWarnings] };
}

/** The nodes a dependency stands for, and the packages without the script passed through to reach them. */
interface Targets {
  refs: DepRef[];
  through: WorkspacePackage[];
}

/** What `npm run SCRIPT` runs: `preSCRIPT`, `SCRIPT`, `postSCRIPT`, those present. */
function lifecycle(pkg: WorkspacePackage, script: string): NpmStep[] {
  return [`pre${script}`, script, `post${script}`].filter((event) => Object.hasOwn(pkg.scripts, event)).map((event) => ({ event, cmd: pkg.scripts[event]! }));
}

/** Dirs of workspace packages inside this one, relative to it: their files are theirs, not its inputs. */
/**
 * The dirs of the packages nested in a package, relative to it. In sorted
 * order the dirs under `a/` form one block, found by binary search (a
 * filter over every package per package is quadratic, and 10,000 packages
 * are real).
 */
function nestedPackageDirs(packages: readonly WorkspacePackage[]): (pkg: WorkspacePackage) => string[] {
  const dirs = packages.map((p) => p.dir).sort();
  return (pkg) => {
    const prefix = pkg.dir === '' ? '' : `${pkg.dir}/`;
    let lo = 0;
    let hi = dirs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (dirs[mid]! < prefix) lo = mid + 1;
      else hi = mid;
    }
    const inside: string[] = [];
    for (let i = lo; i < dirs.length && dirs[i]!.startsWith(prefix); i++) if (dirs[i] !== pkg.dir) inside.push(dirs[i]!.slice(prefix.length));
    return inside;
  };
}

function scriptNames(packages: WorkspacePackage[]): string {
  const names = [...new Set(packages.flatMap((p) => Object.keys(p.scripts)))].sort();
  return names.length > 0 ? names.join(', ') : 'none';
}
