import { located } from '../hint.js';
import type { Diagnostic } from '../../diagnostic.js';
import { readTraced, type LoadTrace } from '../load-trace.js';
import type { WorkspacePackage } from './packages.js';
import { fromPackage, type TaskDef, type TaskSource } from './tasks.js';
import { readPackageTurboJson, readTurboJson, type PackageTurboConfig } from './turbo-json.js';
import { checkPackageConfigs, requestedTasks, taskFor, type TurboTask } from './turbo-resolve.js';
import type { TurboGlob } from './turbo-task.js';

/** The names turbo looks for at the root and in each package, in order. */
const TURBO_FILES = ['turbo.json', 'turbo.jsonc'];

/**
 * The tasks of a Turborepo repository: the root turbo.json (or
 * turbo.jsonc) and every package's own, read as turbo reads them, each file
 * noted in `trace` (text or absence) so an edit reloads the workspace.
 * Undefined when the root has no turbo.json; a broken one is diagnosed.
 * `names`: the tasks asked for (`build` when none); with `only: 'definitions'`
 * they are not checked (kiln.yaml's `import:` names its own and may add some).
 */
export function readTurboSource(
  root: string,
  packages: WorkspacePackage[],
  names: readonly string[],
  diagnostics: Diagnostic[],
  trace: LoadTrace,
  only?: 'definitions',
): TaskSource | undefined {
  const rootFile = readFirst(root, '', trace);
  if (!rootFile) return undefined;
  const warnings: Diagnostic[] = [];
  const before = diagnostics.length;
  const config = readTurboJson(rootFile.file, rootFile.text, diagnostics, warnings);
  const packageConfigs = new Map<string, PackageTurboConfig>();
  for (const pkg of packages) {
    const own = readFirst(root, pkg.dir, trace);
    const read = own && readPackageTurboJson(own.file, own.text, diagnostics, warnings);
    if (read) packageConfigs.set(pkg.name, read);
  }
  if (!config || diagnostics.length > before) return undefined;
  checkPackageConfigs(packageConfigs, diagnostics);
  const requested = only ? (names.length > 0 ? [...names] : ['build']) : requestedTasks(config, packageConfigs, names, diagnostics);
  for (const task of requested) {
    const rootTask = config.tasks.get(`//#${task}`);
    if (rootTask) warnings.push(located(rootTask.pos, `root task '//#${task}' is not run by kiln`, "kiln runs the workspace packages' scripts; run the root's with npm or turbo"));
  }
  const memo = new Map<string, TaskDef | undefined>();
  return {
    requested,
    definition(pkg, task) {
      const key = `${pkg.name}#${task}`;
      if (!memo.has(key)) {
        const turbo = taskFor(config, packageConfigs, pkg.name, task);
        memo.set(key, turbo && toTaskDef(pkg, turbo, diagnostics));
      }
      return memo.get(key);
    },
    globalInputs: config.globalDependencies,
    globalEnv: config.globalEnv,
    globalPassThroughEnv: config.globalPassThroughEnv,
    strictOutputs: false,
    pos: config.pos,
    declareIn: `"outputs" in ${rootFile.file}`,
    warnings,
  };
}

/** turbo's definition as kiln's: globs written from the package dir. */
function toTaskDef(pkg: WorkspacePackage, t: TurboTask, diagnostics: Diagnostic[]): TaskDef {
  const outputs: string[] = [];
  for (const g of t.outputs) {
    if (g.fromRoot) diagnostics.push(located(t.pos, `output '$TURBO_ROOT$/${g.pattern}' of ${pkg.name} is outside the package`, "kiln caches a task's outputs inside its package dir"));
    else outputs.push(written(g));
  }
  return {
    dependsOn: t.dependsOn,
    outputs,
    inputs: { default: t.inputs.default, globs: t.inputs.globs.map((g) => (g.fromRoot ? fromPackage(pkg.dir, written(g)) : written(g))) },
    env: t.env,
    passThroughEnv: t.passThroughEnv,
    cache: t.cache,
    persistent: t.persistent,
    pos: t.pos,
  };
}

const written = (g: TurboGlob): string => `${g.exclude ? '!' : ''}${g.pattern}`;

/** The first of TURBO_FILES in `dir` (workspace-relative), read and traced, or undefined. */
function readFirst(root: string, dir: string, trace: LoadTrace): { file: string; text: string } | undefined {
  for (const name of TURBO_FILES) {
    const file = dir === '' ? name : `${dir}/${name}`;
    const text = readTraced(root, file, trace);
    if (text !== undefined) return { file, text };
  }
  return undefined;
}
