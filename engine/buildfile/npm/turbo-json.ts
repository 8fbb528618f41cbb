import type { Node } from 'jsonc-parser';
import type { Diagnostic, SourcePos } from '../../diagnostic.js';
import { isAbsolute } from '../paths.js';
import { JsoncFile, type JsonEntry } from './jsonc.js';
import { envName, readTaskEntry, type TaskEntry } from './turbo-task.js';

export type { ListField, TaskEntry, TaskRef, TurboGlob, TurboInput } from './turbo-task.js';
export { TURBO_DEFAULT } from './turbo-task.js';

/** The root turbo.json: task entries by key (`build`, `web#build`, `//#build`) and the global settings kiln acts on. */
export interface TurboConfig {
  /** Path relative to the workspace root, as in diagnostics. */
  file: string;
  pos: SourcePos;
  /** Written as `pipeline` (turbo 1) rather than `tasks` (turbo 2). */
  legacy: boolean;
  tasks: Map<string, TaskEntry>;
  /** Env patterns in every task's key. */
  globalEnv: string[];
  /** Env patterns every task may read, unhashed. */
  globalPassThroughEnv: string[];
  /** Globs relative to the root whose files are in every task's key. */
  globalDependencies: string[];
}

/** A Package Configuration (`packages/x/turbo.json`, `extends: ["//", ...]`). */
export interface PackageTurboConfig {
  file: string;
  pos: SourcePos;
  /** Packages named after `//` in `extends`, whose configurations apply before this one, in order. */
  extends: { name: string; pos: SourcePos }[];
  /** Task entries by plain task name. */
  tasks: Map<string, TaskEntry>;
}

/**
 * Top-level keys kiln reads nothing from because they cannot change what is
 * built or cached: turbo's terminal UI, update notices, agent notes,
 * concurrency (kiln has its own -j), the package-manager check, where and
 * how long turbo keeps its cache, its daemon, boundaries and tags (checks and
 * labels), prune, spaces and telemetry export. Root `extends` is ignored by
 * turbo as well.
 */
const ROOT_INERT = new Set([
  '$schema', '//', 'ui', 'noUpdateNotifier', 'agentGuidance', 'concurrency', 'dangerouslyDisablePackageManagerCheck', 'cacheDir', 'cacheMaxAge',
  'cacheMaxSize', 'daemon', 'tags', 'boundaries', 'prune', 'experimentalSpaces', 'experimentalObservability', 'extends',
]);
const ROOT_READ = ['tasks', 'pipeline', 'globalEnv', 'globalPassThroughEnv', 'globalDependencies', 'envMode', 'remoteCache', 'futureFlags', 'global'];
const PACKAGE_INERT = new Set(['$schema', '//', 'tags', 'boundaries', 'prune']);
const PACKAGE_READ = ['extends', 'tasks', 'pipeline'];

/**
 * Future flags that change nothing kiln builds or caches (log lines, remote
 * signature key length, `--affected`, `--filter` and `watch` selection,
 * prune, CI base refs, telemetry). Any other flag set to true is a warning.
 */
const INERT_FLAGS = new Set([
  'errorsOnlyShowHash', 'longerSignatureKey', 'affectedUsingTaskInputs', 'githubActionsRemoteBaseRefFallback', 'watchUsingTaskInputs',
  'pruneIncludesGlobalFiles', 'filterUsingTasks', 'experimentalObservability', 'globalConfiguration',
]);

/**
 * Reads the root turbo.json (JSONC, as turbo does), so that a turbo repo
 * builds with kiln without a kiln.yaml. Errors go to `diagnostics`; keys
 * kiln cannot honour but that do not block a build go to `warnings`, so
 * kiln is never silently different from turbo. Undefined when there were
 * errors.
 */
export function readTurboJson(file: string, text: string, diagnostics: Diagnostic[], warnings: Diagnostic[]): TurboConfig | undefined {
  const json = JsoncFile.parse(file, text, diagnostics, warnings);
  const entries = json?.entries(json.root, file);
  if (!json || !entries) return undefined;
  const before = diagnostics.length;
  const config: TurboConfig = { file, pos: json.pos(json.root), legacy: false, tasks: new Map(), globalEnv: [], globalPassThroughEnv: [], globalDependencies: [] };
  for (const e of entries) readRootKey(json, e, config);
  const tasks = taskTable(json, entries);
  if (tasks) {
    config.legacy = tasks.key === 'pipeline';
    config.tasks = readTasks(json, tasks.value, config.legacy, false);
  }
  return diagnostics.length > before ? undefined : config;
}

/**
 * Reads a Package Configuration. Like turbo it must extend the root first
 * (`"extends": ["//"]`, then optionally other packages), names tasks
 * without `pkg#`, and holds no global settings.
 */
export function readPackageTurboJson(file: string, text: string, diagnostics: Diagnostic[], warnings: Diagnostic[]): PackageTurboConfig | undefined {
  const json = JsoncFile.parse(file, text, diagnostics, warnings);
  const entries = json?.entries(json.root, file);
  if (!json || !entries) return undefined;
  const before = diagnostics.length;
  for (const e of entries) {
    if (PACKAGE_INERT.has(e.key) || PACKAGE_READ.includes(e.key)) continue;
    if (ROOT_INERT.has(e.key) || ROOT_READ.includes(e.key)) json.error(e.keyNode, `'${e.key}' is only for the root turbo.json`, 'a Package Configuration holds extends and tasks');
    else json.unknownKey(e, file, [...PACKAGE_READ, ...PACKAGE_INERT]);
  }
  const ext = readExtends(json, entries.find((e) => e.key === 'extends'));
  const tasks = taskTable(json, entries);
  const config: PackageTurboConfig = { file, pos: json.pos(json.root), extends: ext ?? [], tasks: new Map() };
  if (tasks) config.tasks = readTasks(json, tasks.value, tasks.key === 'pipeline', true);
  return diagnostics.length > before ? undefined : config;
}

function readRootKey(json: JsoncFile, e: JsonEntry, config: TurboConfig): void {
  if (ROOT_INERT.has(e.key) || e.key === 'tasks' || e.key === 'pipeline') return;
  const legacy = json.root.children?.some((p) => p.children?.[0]?.value === 'pipeline') ?? false;
  switch (e.key) {
    case 'globalEnv':
    case 'globalPassThroughEnv':
      config[e.key] = envList(json, e.value, legacy, e.key) ?? [];
      return;
    case 'globalDependencies':
      config.globalDependencies = globalDependencies(json, e.value);
      return;
    case 'envMode':
      return checkEnvMode(json, e.value);
    case 'remoteCache':
      json.warn(e.keyNode, 'kiln does not read remoteCache', "kiln's remote cache is set in kiln.yaml's remote: or with KILN_REMOTE_* variables (protocol: turbo talks to the same servers)");
      return;
    case 'futureFlags':
      return checkFutureFlags(json, e.value);
    case 'global':
      json.error(e.keyNode, "kiln does not read 'global' (futureFlags.globalConfiguration)", 'write the top-level keys instead: globalDependencies, globalEnv, globalPassThroughEnv');
      return;
    default:
      json.unknownKey(e, json.file, [...ROOT_READ, ...ROOT_INERT]);
  }
}

function envList(json: JsoncFile, node: Node, legacy: boolean, label: string): string[] | undefined {
  const raw = json.strings(node, label);
  const names = raw?.map((s) => envName(json, s.value, s.node, legacy, label));
  return names?.every((n) => n !== undefined) ? (names as string[]) : undefined;
}

/** Globs relative to the root; an absolute one is an error, as in turbo. */
function globalDependencies(json: JsoncFile, node: Node): string[] {
  const globs = json.strings(node, 'globalDependencies') ?? [];
  for (const g of globs) if (isAbsolute(g.value.replace(/^!/, ''))) json.error(g.node, `globalDependencies: '${g.value}' is an absolute path`, 'globs are relative to the repository root');
  return globs.map((g) => g.value);
}

/** kiln gives a command only its declared variables (turbo's strict mode); `loose` passes everything, which kiln does not. */
function checkEnvMode(json: JsoncFile, node: Node): void {
  const mode = json.string(node, 'envMode');
  if (mode === 'loose') json.warn(node, "kiln does not do envMode 'loose'", "commands get only the variables in env, passThroughEnv and the global lists (turbo's strict mode): list what they read");
  else if (mode !== undefined && mode !== 'strict') json.error(node, `envMode: expected 'strict' or 'loose', got '${mode}'`);
}

function checkFutureFlags(json: JsoncFile, node: Node): void {
  for (const flag of json.entries(node, 'futureFlags') ?? []) {
    const on = json.bool(flag.value, `futureFlags: ${flag.key}`);
    if (on && !INERT_FLAGS.has(flag.key)) json.warn(flag.keyNode, `kiln does not do futureFlags.${flag.key}`, 'kiln builds and caches as turbo does without this flag');
  }
}

/** `tasks` or turbo 1's `pipeline` (one of them; both is an error). */
function taskTable(json: JsoncFile, entries: JsonEntry[]): JsonEntry | undefined {
  const tables = entries.filter((e) => e.key === 'tasks' || e.key === 'pipeline');
  if (tables.length > 1) return json.error(tables[1]!.keyNode, "both 'tasks' and 'pipeline'", "turbo 2 renamed 'pipeline' to 'tasks': keep one");
  return tables[0];
}

function readTasks(json: JsoncFile, node: Node, legacy: boolean, inPackage: boolean): Map<string, TaskEntry> {
  const tasks = new Map<string, TaskEntry>();
  for (const e of json.entries(node, legacy ? 'pipeline' : 'tasks') ?? []) {
    if (!checkTaskKey(json, e, inPackage)) continue;
    const entry = readTaskEntry(json, e.value, { key: e.key, legacy, inPackage });
    if (entry) tasks.set(e.key, entry);
  }
  return tasks;
}

function checkTaskKey(json: JsoncFile, e: JsonEntry, inPackage: boolean): boolean {
  const hash = e.key.indexOf('#');
  if (hash === -1) return e.key !== '' || (json.error(e.keyNode, 'empty task name') ?? false);
  if (inPackage) return json.error(e.keyNode, `task '${e.key}': a Package Configuration names its tasks without a package`, `write '${e.key.slice(hash + 1)}'`) ?? false;
  if (hash === 0 || hash === e.key.length - 1) return json.error(e.keyNode, `task '${e.key}' is not a task name`, 'write build, web#build or //#build') ?? false;
  return true;
}

function readExtends(json: JsoncFile, e: JsonEntry | undefined): { name: string; pos: SourcePos }[] | undefined {
  if (!e) return json.error(json.root, 'a Package Configuration must extend the root', 'add "extends": ["//"]');
  const names = json.strings(e.value, 'extends');
  if (!names) return undefined;
  if (names[0]?.value !== '//') return json.error(names[0]?.node ?? e.value, "extends must start with '//'", 'write "extends": ["//"]: the root turbo.json comes first');
  const rest = names.slice(1);
  const again = rest.find((n) => n.value === '//');
  if (again) return json.error(again.node, "'//' appears twice in extends");
  return rest.map((n) => ({ name: n.value, pos: json.pos(n.node) }));
}
