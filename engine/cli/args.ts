import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UserError } from '../diagnostic.js';
import { defaultCacheDir, findNpmWorkspaceRoot, findRootBuildFile } from '../workspace-root.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Options every command accepts. */
const GLOBAL_OPTIONS = {
  file: { type: 'string', short: 'f' },
  'cache-dir': { type: 'string' },
  npm: { type: 'string' },
  'npm-outputs': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

/** The global options' values (see GLOBAL_OPTIONS). */
export interface GlobalValues {
  file?: string;
  'cache-dir'?: string;
  /** Build the npm workspace around the current dir without a kiln.yaml: these scripts (comma-separated). */
  npm?: string;
  'npm-outputs'?: string;
  help?: boolean;
}

export interface Parsed<V> {
  values: V & GlobalValues;
  positionals: string[];
}

/**
 * node:util parseArgs with kiln's global options added and its errors turned
 * into usage errors (exit 2) instead of stack traces.
 */
export function parseCommand<O extends Options>(
  command: string,
  argv: string[],
  options: O,
  usage: string,
): Parsed<ReturnType<typeof parseArgs<{ options: O; allowPositionals: true }>>['values']> {
  try {
    const parsed = parseArgs({ args: argv, options: { ...GLOBAL_OPTIONS, ...options }, allowPositionals: true, strict: true });
    if ((parsed.values as { help?: boolean }).help) {
      process.stdout.write(`${usage}\n`);
      process.exit(0);
    }
    return parsed as never;
  } catch (e) {
    throw new UserError([{ message: `${command}: ${(e as Error).message}`, hint: `run 'kiln ${command} --help'` }]);
  }
}

export function resolveCacheDir(values: { 'cache-dir'?: string }): string {
  return values['cache-dir'] ? path.resolve(values['cache-dir']) : defaultCacheDir(process.env);
}

export function resolveRootFile(values: { file?: string }): string {
  if (values.file) return path.resolve(values.file);
  const found = findRootBuildFile(process.cwd());
  if (!found) {
    throw new UserError([
      { message: `no kiln.yaml found in ${process.cwd()} or its parents`, hint: 'create one (see BUILD.md) or pass -f FILE' },
    ]);
  }
  return found;
}

/** Parses a positive integer option or fails as a usage error. */
export function positiveInt(command: string, name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw new UserError([{ message: `${command}: --${name} expects a positive integer, got '${raw}'` }]);
  }
  return n;
}

/** The root package.json for --npm: the npm workspace around the current dir. */
export function resolveNpmRoot(): string {
  const found = findNpmWorkspaceRoot(process.cwd());
  if (!found) {
    throw new UserError([
      { message: `--npm: no package.json with "workspaces" in ${process.cwd()} or its parents`, hint: 'run kiln in an npm workspace, or write a kiln.yaml' },
    ]);
  }
  return found;
}

/**
 * Which workspace a command means: a root kiln.yaml, or with `--npm` the
 * npm workspace around the current dir (its root package.json) and the
 * scripts to import. Plain data, resolved without loading anything heavy:
 * the build command hands it to the daemon before deciding to load.
 */
export interface WorkspaceSpec {
  /** The root kiln.yaml, or the root package.json with --npm. */
  rootFile: string;
  npm?: { scripts: string; outputs?: string };
}

export function resolveWorkspaceSpec(values: GlobalValues): WorkspaceSpec {
  const { npm } = values;
  if (values['npm-outputs'] !== undefined && npm === undefined) {
    throw new UserError([{ message: '--npm-outputs needs --npm', hint: 'e.g. --npm build --npm-outputs dist' }]);
  }
  if (npm === undefined) return { rootFile: resolveRootFile(values) };
  return { rootFile: resolveNpmRoot(), npm: { scripts: npm, ...(values['npm-outputs'] !== undefined ? { outputs: values['npm-outputs'] } : {}) } };
}
