import path from 'node:path';
import type { Diagnostic, SourcePos } from '../../diagnostic.js';
import type { WorkspacePackage } from './packages.js';
import type { TaskRef } from './turbo-task.js';

/**
 * What one task (a package.json script) of one package does, however it
 * was configured: `--npm` flags, `import: npm-workspaces` in kiln.yaml,
 * turbo.json, or turbo.json with kiln.yaml overrides.
 */
export interface TaskDef {
  /** `^build` (the task in each workspace dependency), `build` (this package's), `web#build`. */
  dependsOn: TaskRef[];
  /** Package-relative output paths and globs, `!` excluding (cache/local/output-spec.ts). */
  outputs: string[];
  /**
   * The package's files (`default`), and/or globs relative to its dir (`!`
   * excluding; `../..` reaches the root). With globs and no default, the
   * package.json is an input all the same (as in turbo: it holds the script).
   */
  inputs: { default: boolean; globs: string[] };
  /** Env patterns hashed and passed (`NEXT_PUBLIC_*`, `!SECRET`). */
  env: string[];
  /** Env patterns passed, never hashed. */
  passThroughEnv: string[];
  /** false: always run, never cached (turbo's `cache: false`). */
  cache: boolean;
  /** A long-running process (a dev server): kiln build refuses it. */
  persistent: boolean;
  /** Where it is defined, for located errors. */
  pos: SourcePos;
}

/** Where an importer gets its tasks from. */
export interface TaskSource {
  /** The tasks to run (their dependsOn closure runs too). */
  requested: string[];
  /** The definition of `task` in `pkg`, or undefined where the configuration does not define it (nothing runs). */
  definition(pkg: WorkspacePackage, task: string): TaskDef | undefined;
  /** Root-relative globs whose files are inputs of every task (turbo's globalDependencies). */
  globalInputs: string[];
  globalEnv: string[];
  globalPassThroughEnv: string[];
  /** A task that produced none of its declared outputs fails instead of warning. */
  strictOutputs: boolean;
  /** Where the configuration is, for errors about it as a whole. */
  pos: SourcePos;
  /** Where a user declares outputs with this source: `"outputs" in turbo.json`, ... */
  declareIn: string;
  /** What kiln reads but does not do as the configuration asks: printed with every build. */
  warnings: Diagnostic[];
}

/** A task's definition with nothing configured: `^task`, no outputs, the package's files, cached. */
export function plainTask(task: string, outputs: string[], pos: SourcePos): TaskDef {
  return {
    dependsOn: [{ kind: 'upstream', task, pos }],
    outputs,
    inputs: { default: true, globs: [] },
    env: [],
    passThroughEnv: [],
    cache: true,
    persistent: false,
    pos,
  };
}

/** A root-relative glob written from a package dir: `../../tsconfig.json`. */
export function fromPackage(pkgDir: string, rootGlob: string): string {
  const exclude = rootGlob.startsWith('!');
  const glob = exclude ? rootGlob.slice(1) : rootGlob;
  const up = pkgDir === '' ? '' : `${path.posix.relative(pkgDir, '')}/`;
  return `${exclude ? '!' : ''}${up}${glob}`;
}

/** `--npm build,test [--npm-outputs dist]` without turbo.json: each script `^script`, all with the same outputs. */
export function flagSource(scripts: string[], outputs: string[], strictOutputs: boolean): TaskSource {
  const pos: SourcePos = { file: 'package.json', line: 1, column: 1 };
  const defs = new Map(scripts.map((s) => [s, plainTask(s, outputs, pos)]));
  return {
    requested: scripts,
    definition: (_pkg, task) => defs.get(task),
    globalInputs: [],
    globalEnv: [],
    globalPassThroughEnv: [],
    strictOutputs,
    pos,
    declareIn: "--npm-outputs (or 'kiln init', which writes a kiln.yaml declaring them)",
    warnings: [],
  };
}
