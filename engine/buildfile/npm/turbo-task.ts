import type { Node } from 'jsonc-parser';
import type { SourcePos } from '../../diagnostic.js';
import { isAbsolute, normalise } from '../paths.js';
import type { JsonEntry, JsoncFile } from './jsonc.js';

/**
 * One `dependsOn` (or `with`) entry: `^build` is the `build` task of each
 * workspace dependency, `build` the same package's, `web#build` (or
 * `//#build`, a root task) that package's.
 */
export interface TaskRef {
  kind: 'upstream' | 'self' | 'package';
  task: string;
  /** For `package` refs: the package name, `//` for the root. */
  pkg?: string;
  pos: SourcePos;
}

/** An `outputs` or `inputs` glob: `!` and `$TURBO_ROOT$/` taken off and recorded. */
export interface TurboGlob {
  /** Normalised posix glob, relative to the package dir, or to the repository root when `fromRoot`. */
  pattern: string;
  /** Written with a leading `!`: removes what earlier globs matched. */
  exclude: boolean;
  /** Written as `$TURBO_ROOT$/...`. */
  fromRoot: boolean;
}

/** An array field as written: its items and whether it starts with `$TURBO_EXTENDS$` (append to the inherited value). */
export interface ListField<T> {
  items: T[];
  extend: boolean;
}

/** `$TURBO_DEFAULT$` among `inputs`: the package's default inputs (its files git does not ignore). */
export const TURBO_DEFAULT = '$TURBO_DEFAULT$';
export type TurboInput = TurboGlob | typeof TURBO_DEFAULT;

/**
 * One task entry of one turbo.json, holding only the fields written there:
 * a Package Configuration replaces exactly those fields of what it inherits.
 */
export interface TaskEntry {
  pos: SourcePos;
  /** Task-level `extends: false` (Package Configurations only): inherit nothing. */
  extends?: boolean;
  dependsOn?: ListField<TaskRef>;
  with?: ListField<TaskRef>;
  outputs?: ListField<TurboGlob>;
  inputs?: ListField<TurboInput>;
  env?: ListField<string>;
  passThroughEnv?: ListField<string>;
  cache?: boolean;
  persistent?: boolean;
  interactive?: boolean;
  interruptible?: boolean;
}

/** How a task entry is read: which file kind and turbo generation it is in. */
export interface TaskContext {
  /** The entry's own key, `build` or `web#build`, to catch a task depending on itself. */
  key: string;
  /** `pipeline` (turbo 1): `$VAR` in dependsOn and env means the variable VAR, and `outputMode` is accepted. */
  legacy: boolean;
  /** In a Package Configuration: task-level `extends` and `$TURBO_EXTENDS$` are allowed. */
  inPackage: boolean;
}

const OUTPUT_LOGS = ['full', 'hash-only', 'new-only', 'errors-only', 'none'];
const TASK_KEYS = ['dependsOn', 'outputs', 'inputs', 'env', 'passThroughEnv', 'cache', 'persistent', 'interactive', 'interruptible', 'with', 'outputLogs', 'tags', 'description', 'extends'];
const EXTENDS_MARKER = '$TURBO_EXTENDS$';
const ROOT_PREFIX = '$TURBO_ROOT$';

/** Reads one task entry; errors go to the file's lists and give undefined. */
export function readTaskEntry(file: JsoncFile, node: Node, ctx: TaskContext): TaskEntry | undefined {
  const label = `task '${ctx.key}'`;
  const entries = file.entries(node, label);
  if (!entries) return undefined;
  const entry: TaskEntry = { pos: file.pos(node) };
  const before = file.errors.length;
  // dependsOn last: under `pipeline` its `$VAR` entries join the env read before.
  const ordered = [...entries].sort((a, b) => Number(a.key === 'dependsOn') - Number(b.key === 'dependsOn'));
  for (const e of ordered) readTaskField(file, e, entry, ctx, `${label}: ${e.key}`);
  if (file.errors.length > before) return undefined;
  if (!ctx.inPackage) checkFlags(file, entries, entry, label);
  return file.errors.length > before ? undefined : entry;
}

function readTaskField(file: JsoncFile, e: JsonEntry, entry: TaskEntry, ctx: TaskContext, label: string): void {
  switch (e.key) {
    case 'dependsOn':
      return readDependsOn(file, e.value, entry, ctx, label);
    case 'with':
      return assign(entry, 'with', list(file, e.value, ctx, label, (v, n) => taskRef(file, v, n, ctx, label, false)));
    case 'outputs':
      return assign(entry, 'outputs', list(file, e.value, ctx, label, (v, n) => glob(file, v, n, label)));
    case 'inputs':
      return assign(entry, 'inputs', list(file, e.value, ctx, label, (v, n) => (v === TURBO_DEFAULT ? TURBO_DEFAULT : glob(file, v, n, label))));
    case 'env':
    case 'passThroughEnv':
      return assign(entry, e.key, list(file, e.value, ctx, label, (v, n) => envName(file, v, n, ctx.legacy, label)));
    case 'cache':
    case 'persistent':
    case 'interactive':
    case 'interruptible':
      return assign(entry, e.key, file.bool(e.value, label));
    case 'extends':
      if (!ctx.inPackage) return void file.error(e.keyNode, `${label}: task-level extends is only for Package Configurations`, 'remove it: the root turbo.json inherits from nothing');
      return assign(entry, 'extends', file.bool(e.value, label));
    default:
      return readInertField(file, e, ctx, label);
  }
}

/** Fields that change nothing kiln builds or caches: log verbosity, labels, descriptions. They are checked, then dropped. */
function readInertField(file: JsoncFile, e: JsonEntry, ctx: TaskContext, label: string): void {
  if (e.key === 'outputLogs' || (e.key === 'outputMode' && ctx.legacy)) {
    const mode = file.string(e.value, label);
    if (mode !== undefined && !OUTPUT_LOGS.includes(mode)) file.error(e.value, `${label}: expected one of ${OUTPUT_LOGS.join(', ')}`);
  } else if (e.key === 'tags') {
    file.strings(e.value, label);
  } else if (e.key === 'description') {
    file.string(e.value, label);
  } else if (e.key === 'outputMode') {
    file.error(e.keyNode, `task '${ctx.key}': unknown key 'outputMode'`, "turbo 2 renamed it to 'outputLogs'");
  } else {
    file.unknownKey(e, `task '${ctx.key}'`, TASK_KEYS);
  }
}

function assign<K extends keyof TaskEntry>(entry: TaskEntry, key: K, value: TaskEntry[K] | undefined): void {
  if (value !== undefined) entry[key] = value;
}

/** An array field; `$TURBO_EXTENDS$` may lead it in a Package Configuration. Items that give undefined were reported. */
function list<T>(file: JsoncFile, node: Node, ctx: TaskContext, label: string, item: (value: string, node: Node) => T | undefined): ListField<T> | undefined {
  const raw = file.strings(node, label);
  if (!raw) return undefined;
  const extend = raw[0]?.value === EXTENDS_MARKER;
  if (extend && !ctx.inPackage) return file.error(raw[0]!.node, `${label}: ${EXTENDS_MARKER} is only for Package Configurations`, 'the root turbo.json has nothing to extend');
  const items: T[] = [];
  let ok = true;
  for (const { value, node: n } of extend ? raw.slice(1) : raw) {
    if (value === EXTENDS_MARKER) return file.error(n, `${label}: ${EXTENDS_MARKER} must be the first item`);
    const parsed = item(value, n);
    if (parsed === undefined) ok = false;
    else items.push(parsed);
  }
  return ok ? { items, extend } : undefined;
}

/** dependsOn: task refs, plus (turbo 1 `pipeline` only) `$VAR` entries, which are env. */
function readDependsOn(file: JsoncFile, node: Node, entry: TaskEntry, ctx: TaskContext, label: string): void {
  const legacyEnv: string[] = [];
  const refs = list(file, node, ctx, label, (v, n): TaskRef | null | undefined => {
    if (!v.startsWith('$')) return taskRef(file, v, n, ctx, label, true);
    if (!ctx.legacy) return file.error(n, `${label}: '${v}' is an environment variable`, `turbo 2 reads variables from env: write "env": ["${v.slice(1)}"]`);
    legacyEnv.push(v.slice(1));
    return null;
  });
  if (!refs) return;
  entry.dependsOn = { items: refs.items.filter((r): r is TaskRef => r !== null), extend: refs.extend };
  if (legacyEnv.length > 0) entry.env = { items: [...(entry.env?.items ?? []), ...legacyEnv], extend: entry.env?.extend ?? false };
}

function taskRef(file: JsoncFile, raw: string, node: Node, ctx: TaskContext, label: string, topoAllowed: boolean): TaskRef | undefined {
  const pos = file.pos(node);
  const upstream = raw.startsWith('^');
  const name = upstream ? raw.slice(1) : raw;
  const hash = name.indexOf('#');
  if (upstream && !topoAllowed) return file.error(node, `${label}: '${raw}': ^ is not allowed here`, 'name a task of this package (build) or of another (web#build)');
  if (upstream && hash !== -1) {
    return file.error(node, `${label}: '${raw}' combines ^ with a package`, `write '${name}' for that package's task, or '^${name.slice(hash + 1)}' for the task of each workspace dependency`);
  }
  if (hash === 0 || hash === name.length - 1 || name === '') return file.error(node, `${label}: '${raw}' is not a task`, 'write build, ^build or web#build');
  const ref: TaskRef = hash === -1 ? { kind: upstream ? 'upstream' : 'self', task: name, pos } : { kind: 'package', pkg: name.slice(0, hash), task: name.slice(hash + 1), pos };
  if (dependsOnItself(ref, ctx.key)) return file.error(node, `${label}: task '${ctx.key}' depends on itself`, 'remove it; ^ names the task of the workspace dependencies');
  return ref;
}

function dependsOnItself(ref: TaskRef, key: string): boolean {
  const hash = key.indexOf('#');
  const task = hash === -1 ? key : key.slice(hash + 1);
  if (ref.kind === 'self') return ref.task === task;
  return ref.kind === 'package' && `${ref.pkg}#${ref.task}` === key;
}

function glob(file: JsoncFile, raw: string, node: Node, label: string): TurboGlob | undefined {
  const exclude = raw.startsWith('!');
  let rest = exclude ? raw.slice(1) : raw;
  const fromRoot = rest.startsWith(ROOT_PREFIX);
  if (fromRoot) {
    if (!rest.startsWith(`${ROOT_PREFIX}/`)) return file.error(node, `${label}: '${raw}': ${ROOT_PREFIX} must be followed by /`, `e.g. ${ROOT_PREFIX}/tsconfig.json`);
    rest = rest.slice(ROOT_PREFIX.length + 1);
  }
  if (isAbsolute(rest)) return file.error(node, `${label}: '${raw}' is an absolute path`, `globs are relative to the package; ${ROOT_PREFIX}/ makes one relative to the repository root`);
  const pattern = normalise(rest);
  if (pattern === '') return file.error(node, `${label}: '${raw}' is empty`);
  return { pattern, exclude, fromRoot };
}

/** An env entry: a name, a `*` wildcard, `!` to exclude. `$NAME` is turbo 1's spelling (accepted only under `pipeline`). */
export function envName(file: JsoncFile, raw: string, node: Node, legacy: boolean, label: string): string | undefined {
  if (raw.startsWith('$')) {
    if (legacy) return raw.slice(1);
    return file.error(node, `${label}: '${raw}': environment variables are written without $`, `write '${raw.slice(1)}'`);
  }
  if (raw === '' || raw === '!') return file.error(node, `${label}: empty variable name`);
  return raw;
}

/**
 * turbo's checks on flags: an interactive task must not be cached, an
 * interruptible one must be persistent. Root entries only: turbo checks the
 * merged definition, and a Package Configuration's entry alone is partial.
 */
function checkFlags(file: JsoncFile, entries: JsonEntry[], entry: TaskEntry, label: string): void {
  const at = (key: string): Node => entries.find((e) => e.key === key)!.value;
  if (entry.interactive && entry.cache !== false) file.error(at('interactive'), `${label}: an interactive task cannot be cached`, 'add "cache": false');
  if (entry.interruptible && !entry.persistent) file.error(at('interruptible'), `${label}: an interruptible task must be persistent`, 'add "persistent": true');
}
