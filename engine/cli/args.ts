import fs from 'node:fs';
import path from 'node:path';
import { ensureStateDir, STATE_DIR } from '../state/state-dir.js';
import type { WorkspaceSpec } from '../workspace-spec.js';
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
  'strict-outputs': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

/** The global options' values (see GLOBAL_OPTIONS). */
export interface GlobalValues {
  file?: string;
  'cache-dir'?: string;
  /** Build the npm workspace around the current dir without a kiln.yaml: these scripts (comma-separated). */
  npm?: string;
  'npm-outputs'?: string;
  /** A task that produced none of its declared outputs fails (else, as in turbo, a warning). */
  'strict-outputs'?: boolean;
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
      {
        message: `no kiln.yaml found in ${process.cwd()} or its parents, nor an npm, pnpm or yarn workspace`,
        hint: "create one (see BUILD.md, or 'kiln init' in a JS workspace) or pass -f FILE",
      },
    ]);
  }
  return found;
}

/** The most workers -j takes: more than any machine's cores, and a bound the scheduler can allocate for. */
export const MAX_JOBS = 1024;

/**
 * Every numeric option of every command: plain decimal digits (no sign, hex,
 * exponent or blank), from 1 to `max`; anything else is a usage error that
 * says the range.
 */
export function positiveInt(command: string, name: string, raw: string, max = 1_000_000): number {
  const n = /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new UserError([{ message: `${command}: --${name} expects a positive integer, got '${raw}'`, hint: `decimal digits only, from 1 to ${max}` }]);
  }
  return n;
}

/** The root package.json of the JS workspace around the current dir, for --npm and kiln.yaml-less use. */
export function resolveNpmRoot(): string {
  const found = findNpmWorkspaceRoot(process.cwd());
  if (!found) {
    throw new UserError([
      {
        message: `--npm: no package.json with "workspaces" (nor a pnpm-workspace.yaml) in ${process.cwd()} or its parents`,
        hint: 'run kiln in an npm, pnpm or yarn workspace, or write a kiln.yaml',
      },
    ]);
  }
  return found;
}

/** Where a kiln.yaml-less build records its flags, so why, graph, clean and daemon use the same graph without repeating them. */
const LAST_JS_SPEC = 'js-workspace.json';

/**
 * The workspace of a command. `use: 'as-given'` (build, daemon serve) takes
 * the flags as they are; otherwise, in a JS workspace without flags, the
 * flags of the last build there are used.
 */
export function resolveWorkspaceSpec(values: GlobalValues, use: 'as-given' | 'last-build' = 'last-build'): WorkspaceSpec {
  const { npm } = values;
  const jsFlags = npm !== undefined || values['npm-outputs'] !== undefined || values['strict-outputs'] === true;
  if (!jsFlags && values.file === undefined) {
    const buildFile = findRootBuildFile(process.cwd());
    const jsRoot = buildFile ? undefined : findNpmWorkspaceRoot(process.cwd());
    if (jsRoot) return { rootFile: jsRoot, npm: use === 'last-build' ? (lastJsSpec(path.dirname(jsRoot)) ?? {}) : {} };
  }
  if (!jsFlags) return { rootFile: resolveRootFile(values) };
  if (values['npm-outputs'] !== undefined && npm === undefined && values.file !== undefined) {
    throw new UserError([{ message: '--npm-outputs is for workspaces without a kiln.yaml', hint: 'set outputs under import: in kiln.yaml' }]);
  }
  return {
    rootFile: resolveNpmRoot(),
    npm: {
      ...(npm !== undefined ? { scripts: npm } : {}),
      ...(values['npm-outputs'] !== undefined ? { outputs: values['npm-outputs'] } : {}),
      ...(values['strict-outputs'] ? { strictOutputs: true as const } : {}),
    },
  };
}

/** Records the JS workspace flags a build loaded fine with (see LAST_JS_SPEC). */
export function rememberJsSpec(spec: WorkspaceSpec): void {
  if (!spec.npm) return;
  const root = path.dirname(spec.rootFile);
  try {
    fs.writeFileSync(path.join(ensureStateDir(root), LAST_JS_SPEC), JSON.stringify(spec.npm));
  } catch {
    // A read-only checkout still builds; its other commands then take the defaults.
  }
}

function lastJsSpec(root: string): WorkspaceSpec['npm'] | undefined {
  try {
    const raw = JSON.parse(fs.readFileSync(path.join(root, STATE_DIR, LAST_JS_SPEC), 'utf8')) as Record<string, unknown>;
    const text = (k: string) => (typeof raw[k] === 'string' ? { [k]: raw[k] as string } : {});
    return { ...text('scripts'), ...text('outputs'), ...(raw.strictOutputs === true ? { strictOutputs: true as const } : {}) };
  } catch {
    return undefined;
  }
}
