// Reading Turborepo's turbo.json: parsing with positions, every error located,
// Package Configuration merging, and the resolved plan compared with the real
// turbo 2.11.11's `turbo run ... --dry=json` on a generated workspace.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Diagnostic } from '../engine/diagnostic.js';
import { readPackageTurboJson, readTurboJson, type PackageTurboConfig, type TurboConfig } from '../engine/buildfile/npm/turbo-json.js';
import { checkPackageConfigs, requestedTasks, taskFor, type TurboTask } from '../engine/buildfile/npm/turbo-resolve.js';
import { matchEnv } from '../engine/keys/env-patterns.js';
import { tempDir, writeFiles } from './kiln.js';

function root(text: string): { config: TurboConfig | undefined; errors: string[]; warnings: string[] } {
  const errors: Diagnostic[] = [];
  const warnings: Diagnostic[] = [];
  const config = readTurboJson('turbo.json', text, errors, warnings);
  return { config, errors: errors.map(show), warnings: warnings.map(show) };
}

function pkgConfig(text: string, file = 'packages/web/turbo.json'): { config: PackageTurboConfig | undefined; errors: string[] } {
  const errors: Diagnostic[] = [];
  const config = readPackageTurboJson(file, text, errors, []);
  return { config, errors: errors.map(show) };
}

const show = (d: Diagnostic): string => `${d.pos!.file}:${d.pos!.line}:${d.pos!.column}: ${d.message}${d.hint ? ` (${d.hint})` : ''}`;
const refs = (t: TurboTask | undefined): string[] => (t?.dependsOn ?? []).map((r) => (r.kind === 'upstream' ? `^${r.task}` : r.kind === 'package' ? `${r.pkg}#${r.task}` : r.task));
const globs = (gs: TurboTask['outputs']): string[] => gs.map((g) => `${g.exclude ? '!' : ''}${g.fromRoot ? '$TURBO_ROOT$/' : ''}${g.pattern}`);

// The shape of a Next.js + libraries turbo repo's root config, written the way
// people write them: comments, trailing commas, a pkg#task and a root task.
const NEXT_REPO = `{
  "$schema": "https://turborepo.com/schema.json",
  "ui": "tui", // inert for kiln
  "globalDependencies": ["tsconfig.json", ".env"],
  "globalEnv": ["NODE_ENV", "NEXT_PUBLIC_*"],
  "globalPassThroughEnv": ["AWS_SECRET_KEY"],
  /* tasks */
  "tasks": {
    "build": {
      "dependsOn": ["^build"],
      "inputs": ["$TURBO_DEFAULT$", ".env*", "!README.md"],
      "outputs": [".next/**", "!.next/cache/**", "dist/**"],
      "env": ["DATABASE_URL"],
    },
    "test": { "dependsOn": ["build", "@acme/utils#build"], "outputs": ["coverage/**"], "outputLogs": "new-only" },
    "lint": { "inputs": ["$TURBO_ROOT$/.eslintrc.js", "src/**"] },
    "dev": { "cache": false, "persistent": true, "with": ["api#dev"] },
    "web#build": { "dependsOn": ["^build"], "outputs": [".next/**"], "env": ["API_SERVICE_KEY"] },
    "//#format": { "cache": false, "tags": ["ci"], "description": "prettier" },
  },
}
`;

describe('root turbo.json', () => {
  it('reads a real-shaped config with comments and trailing commas', () => {
    const { config, errors, warnings } = root(NEXT_REPO);
    expect(errors).toEqual([]);
    expect(warnings).toEqual([]);
    expect(config!.legacy).toBe(false);
    expect([...config!.tasks.keys()]).toEqual(['build', 'test', 'lint', 'dev', 'web#build', '//#format']);
    expect(config!.globalDependencies).toEqual(['tsconfig.json', '.env']);
    expect(config!.globalEnv).toEqual(['NODE_ENV', 'NEXT_PUBLIC_*']);
    expect(config!.globalPassThroughEnv).toEqual(['AWS_SECRET_KEY']);

    const build = taskFor(config!, new Map(), 'docs', 'build')!;
    expect(refs(build)).toEqual(['^build']);
    expect(globs(build.outputs)).toEqual(['.next/**', '!.next/cache/**', 'dist/**']);
    expect(build.inputs).toEqual({ default: true, globs: [{ pattern: '.env*', exclude: false, fromRoot: false }, { pattern: 'README.md', exclude: true, fromRoot: false }] });
    expect(build).toMatchObject({ env: ['DATABASE_URL'], cache: true, persistent: false, pos: { file: 'turbo.json', line: 9, column: 14 } });
    expect(taskFor(config!, new Map(), 'docs', 'test')).toMatchObject({ outputs: [{ pattern: 'coverage/**' }], inputs: { default: true, globs: [] } });
    expect(taskFor(config!, new Map(), 'docs', 'lint')!.inputs).toEqual({ default: false, globs: [{ pattern: '.eslintrc.js', exclude: false, fromRoot: true }, { pattern: 'src/**', exclude: false, fromRoot: false }] });
    expect(taskFor(config!, new Map(), 'docs', 'dev')).toMatchObject({ cache: false, persistent: true, with: [{ kind: 'package', pkg: 'api', task: 'dev' }] });
  });

  it('gives every dependsOn form its kind', () => {
    const { config } = root(NEXT_REPO);
    expect(taskFor(config!, new Map(), 'docs', 'test')!.dependsOn).toEqual([
      { kind: 'self', task: 'build', pos: { file: 'turbo.json', line: 15, column: 29 } },
      { kind: 'package', pkg: '@acme/utils', task: 'build', pos: { file: 'turbo.json', line: 15, column: 38 } },
    ]);
    expect(refs(taskFor(config!, new Map(), 'docs', 'build'))).toEqual(['^build']);
  });

  it("uses the root's pkg#task whole instead of task, and gives the root package only //#task", () => {
    const { config } = root(NEXT_REPO);
    expect(taskFor(config!, new Map(), 'web', 'build')).toMatchObject({ env: ['API_SERVICE_KEY'], outputs: [{ pattern: '.next/**' }], inputs: { default: true, globs: [] } });
    expect(taskFor(config!, new Map(), '//', 'build')).toBeUndefined();
    expect(taskFor(config!, new Map(), '//', 'format')).toMatchObject({ cache: false });
    expect(taskFor(config!, new Map(), 'docs', 'format')).toBeUndefined();
    expect(taskFor(config!, new Map(), 'docs', 'deploy')).toBeUndefined();
  });

  it('reads turbo 1 pipeline configs: $VAR in dependsOn is env, outputMode is accepted', () => {
    const { config, errors } = root(`{
  "pipeline": {
    "build": { "dependsOn": ["^build", "$GITHUB_TOKEN"], "env": ["$NODE_ENV"], "outputMode": "new-only" },
    "deploy": { "dependsOn": ["build", "test", "lint"], "outputs": [] },
    "test": {}, "lint": {}
  }
}`);
    expect(errors).toEqual([]);
    expect(config!.legacy).toBe(true);
    const build = taskFor(config!, new Map(), 'a', 'build')!;
    expect(refs(build)).toEqual(['^build']);
    expect(build.env).toEqual(['NODE_ENV', 'GITHUB_TOKEN']);
    expect(build.outputs).toEqual([]);
    expect(refs(taskFor(config!, new Map(), 'a', 'deploy'))).toEqual(['build', 'test', 'lint']);
  });

  it('accepts the keys that change nothing kiln builds, and warns on those it cannot honour', () => {
    const { errors, warnings } = root(`{
  "ui": "stream", "daemon": false, "concurrency": "50%", "cacheDir": ".cache/turbo", "noUpdateNotifier": true,
  "dangerouslyDisablePackageManagerCheck": true, "boundaries": {}, "tags": [], "//": "a comment",
  "remoteCache": { "signature": true },
  "envMode": "loose",
  "futureFlags": { "errorsOnlyShowHash": true, "hashFilePermissions": true, "strictTaskEntrypointSelection": false },
  "tasks": { "build": {} }
}`);
    expect(errors).toEqual([]);
    expect(warnings).toEqual([
      expect.stringMatching(/^turbo\.json:4:3: kiln does not read remoteCache/),
      expect.stringMatching(/^turbo\.json:5:14: kiln does not do envMode 'loose'/),
      expect.stringMatching(/^turbo\.json:6:48: kiln does not do futureFlags\.hashFilePermissions/),
    ]);
  });

  it.each([
    ['a syntax error', '{\n  "tasks": {\n    "build": {}\n    "test": {}\n  }\n}', '4:5: invalid JSON: comma expected'],
    ['an unknown task key', '{"tasks": {\n  "build": { "dependson": ["^build"] }\n}}', "2:14: task 'build': unknown key 'dependson' (did you mean 'dependsOn'?)"],
    ['an unknown top-level key', '{\n  "pipelines": {}\n}', "2:3: turbo.json: unknown key 'pipelines' (did you mean 'pipeline'?)"],
    ['dependsOn not a list', '{"tasks": {\n  "build": { "dependsOn": "^build" }\n}}', "2:27: task 'build': dependsOn: expected a list of strings, got string \"^build\""],
    ['cache not a boolean', '{"tasks": {\n  "build": { "cache": "no" }\n}}', "2:23: task 'build': cache: expected true or false, got string \"no\""],
    ['a task that is not an object', '{"tasks": {\n  "build": []\n}}', "2:12: task 'build': expected an object, got an array"],
    ['^ on a pkg#task', '{"tasks": {\n  "build": { "dependsOn": ["^web#build"] }\n}}', "2:28: task 'build': dependsOn: '^web#build' combines ^ with a package"],
    ['a task depending on itself', '{"tasks": {\n  "build": { "dependsOn": ["^build", "build"] }\n}}', "2:38: task 'build': dependsOn: task 'build' depends on itself"],
    ['a pkg#task depending on itself', '{"tasks": {\n  "web#build": { "dependsOn": ["web#build"] }\n}}', "2:32: task 'web#build': dependsOn: task 'web#build' depends on itself"],
    ['an env var in turbo 2 dependsOn', '{"tasks": {\n  "build": { "dependsOn": ["$API_KEY"] }\n}}', "2:28: task 'build': dependsOn: '$API_KEY' is an environment variable"],
    ['$ in turbo 2 env', '{"tasks": {\n  "build": { "env": ["$API_KEY"] }\n}}', "2:22: task 'build': env: '$API_KEY': environment variables are written without $"],
    ['an absolute output', '{"tasks": {\n  "build": { "outputs": ["/tmp/out/**"] }\n}}', "2:26: task 'build': outputs: '/tmp/out/**' is an absolute path"],
    ['$TURBO_ROOT$ without /', '{"tasks": {\n  "build": { "inputs": ["$TURBO_ROOT$tsconfig.json"] }\n}}', "2:25: task 'build': inputs: '$TURBO_ROOT$tsconfig.json': $TURBO_ROOT$ must be followed by /"],
    ['$TURBO_EXTENDS$ in the root', '{"tasks": {\n  "build": { "outputs": ["$TURBO_EXTENDS$", "dist/**"] }\n}}', "2:26: task 'build': outputs: $TURBO_EXTENDS$ is only for Package Configurations"],
    ['an interactive cached task', '{"tasks": {\n  "dev": { "persistent": true, "interactive": true }\n}}', "2:47: task 'dev': an interactive task cannot be cached"],
    ['an interruptible task that is not persistent', '{"tasks": {\n  "dev": { "interruptible": true }\n}}', "2:29: task 'dev': an interruptible task must be persistent"],
    ['outputMode in turbo 2', '{"tasks": {\n  "build": { "outputMode": "full" }\n}}', "2:14: task 'build': unknown key 'outputMode' (turbo 2 renamed it to 'outputLogs')"],
    ['both tasks and pipeline', '{"tasks": {},\n "pipeline": {}}', "2:2: both 'tasks' and 'pipeline'"],
    ['task-level extends in the root', '{"tasks": {\n  "build": { "extends": false }\n}}', "2:14: task 'build': extends: task-level extends is only for Package Configurations"],
    ['^ in with', '{"tasks": {\n  "dev": { "with": ["^api"] }\n}}', "2:21: task 'dev': with: '^api': ^ is not allowed here"],
    ['a key without a task', '{"tasks": {\n  "web#": {}\n}}', "2:3: task 'web#' is not a task name"],
    ['global (futureFlags.globalConfiguration)', '{\n  "global": { "env": ["CI"] }\n}', "2:3: kiln does not read 'global' (futureFlags.globalConfiguration)"],
    ['an absolute global dependency', '{\n  "globalDependencies": ["/etc/hosts"]\n}', "2:26: globalDependencies: '/etc/hosts' is an absolute path"],
    ['a repeated key', '{"tasks": {\n  "build": {},\n  "build": {}\n}}', "3:3: tasks: key 'build' appears twice"],
  ])('locates %s', (_name, text, expected) => {
    const { config, errors } = root(text);
    expect(config).toBeUndefined();
    expect(errors[0]).toContain(`turbo.json:${expected}`);
  });
});

describe('Package Configurations', () => {
  const base = root(`{
  "tasks": {
    "build": { "dependsOn": ["^build"], "outputs": ["dist/**"], "env": ["NODE_ENV"], "cache": true },
    "lint": {},
    "test": { "dependsOn": ["build"] },
    "api#build": { "outputs": ["out/**"] }
  }
}`).config!;
  const configs = (texts: Record<string, string>): Map<string, PackageTurboConfig> => {
    const out = new Map<string, PackageTurboConfig>();
    for (const [name, text] of Object.entries(texts)) {
      const { config, errors } = pkgConfig(text, `packages/${name}/turbo.json`);
      expect(errors).toEqual([]);
      out.set(name, config!);
    }
    return out;
  };

  it('replaces the fields present, inherits the rest, appends $TURBO_EXTENDS$ lists', () => {
    const pkgs = configs({
      web: `{
  "extends": ["//"],
  // Next.js here
  "tasks": {
    "build": { "outputs": ["$TURBO_EXTENDS$", ".next/**", "!.next/cache/**"], "env": ["NEXT_PUBLIC_*"], "cache": false },
    "e2e": { "dependsOn": ["build"] },
  },
}`,
    });
    const build = taskFor(base, pkgs, 'web', 'build')!;
    expect(globs(build.outputs)).toEqual(['dist/**', '.next/**', '!.next/cache/**']);
    expect(build.env).toEqual(['NEXT_PUBLIC_*']);
    expect(refs(build)).toEqual(['^build']);
    expect(build.cache).toBe(false);
    expect(build.pos).toEqual({ file: 'packages/web/turbo.json', line: 5, column: 14 });
    expect(refs(taskFor(base, pkgs, 'web', 'e2e'))).toEqual(['build']);
    expect(taskFor(base, pkgs, 'docs', 'e2e')).toBeUndefined();
    expect(taskFor(base, pkgs, 'docs', 'build')!.cache).toBe(true);
  });

  it("merges a package's config over the root's pkg#task, not over task", () => {
    const pkgs = configs({ api: '{"extends": ["//"], "tasks": {"build": {"env": ["PORT"]}}}' });
    const build = taskFor(base, pkgs, 'api', 'build')!;
    expect(build).toMatchObject({ outputs: [{ pattern: 'out/**' }], env: ['PORT'], dependsOn: [] });
  });

  it('drops a task with extends: false, or starts it afresh when it says more', () => {
    const pkgs = configs({
      ui: '{"extends": ["//"], "tasks": {"lint": {"extends": false}, "build": {"extends": false, "outputs": ["lib/**"]}}}',
    });
    expect(taskFor(base, pkgs, 'ui', 'lint')).toBeUndefined();
    expect(taskFor(base, pkgs, 'ui', 'build')).toMatchObject({ outputs: [{ pattern: 'lib/**' }], env: [], dependsOn: [], cache: true });
  });

  it('applies the packages named in extends in order, then its own', () => {
    const pkgs = configs({
      'next-config': '{"extends": ["//"], "tasks": {"build": {"outputs": [".next/**"]}, "lint": {"extends": false}}}',
      docs: '{"extends": ["//", "next-config"], "tasks": {"build": {"env": ["$TURBO_EXTENDS$", "DOCS_URL"]}}}',
    });
    const errors: Diagnostic[] = [];
    checkPackageConfigs(pkgs, errors);
    expect(errors).toEqual([]);
    expect(taskFor(base, pkgs, 'docs', 'build')).toMatchObject({ outputs: [{ pattern: '.next/**' }], env: ['NODE_ENV', 'DOCS_URL'], dependsOn: [{ kind: 'upstream', task: 'build' }] });
    expect(taskFor(base, pkgs, 'docs', 'lint')).toBeUndefined();
  });

  it('reports extends of a package without a turbo.json, and circles', () => {
    const pkgs = configs({
      a: '{"extends": ["//", "b"]}',
      b: '{"extends": ["//", "a"]}',
      c: '{"extends": ["//",\n  "nowhere"]}',
    });
    const errors: Diagnostic[] = [];
    checkPackageConfigs(pkgs, errors);
    expect(errors.map(show)).toEqual([
      'packages/a/turbo.json:1:1: extends goes round in a circle: a -> b -> a (remove one of these extends)',
      'packages/b/turbo.json:1:1: extends goes round in a circle: b -> a -> b (remove one of these extends)',
      "packages/c/turbo.json:2:3: extends 'nowhere', which has no turbo.json (name a workspace package that has a turbo.json, by its package.json name)",
    ]);
  });

  it.each([
    ['no extends', '{\n  "tasks": {}\n}', '1:1: a Package Configuration must extend the root'],
    ['extends not starting with //', '{\n  "extends": ["web"]\n}', "2:15: extends must start with '//'"],
    ['extends as a string', '{\n  "extends": "//"\n}', '2:14: extends: expected a list of strings'],
    ['a pkg#task key', '{"extends": ["//"], "tasks": {\n  "web#build": {}\n}}', "2:3: task 'web#build': a Package Configuration names its tasks without a package (write 'build')"],
    ['a root-only key', '{"extends": ["//"],\n  "globalEnv": ["CI"]\n}', "2:3: 'globalEnv' is only for the root turbo.json"],
    ['$TURBO_EXTENDS$ not first', '{"extends": ["//"], "tasks": {\n  "build": {"env": ["A", "$TURBO_EXTENDS$"]}\n}}', '2:26: task \'build\': env: $TURBO_EXTENDS$ must be the first item'],
  ])('locates %s', (_name, text, expected) => {
    const { config, errors } = pkgConfig(text);
    expect(config).toBeUndefined();
    expect(errors[0]).toContain(`packages/web/turbo.json:${expected}`);
  });
});

describe('requested tasks and env', () => {
  it('runs build by default and reports a task no turbo.json defines', () => {
    const { config } = root(NEXT_REPO);
    const errors: Diagnostic[] = [];
    expect(requestedTasks(config!, new Map(), [], errors)).toEqual(['build']);
    expect(requestedTasks(config!, new Map(), ['test', 'format', 'web#build', 'test'], errors)).toEqual(['test', 'format', 'web#build']);
    expect(errors).toEqual([]);
    requestedTasks(config!, new Map(), ['deploy'], errors);
    expect(errors.map(show)).toEqual(["turbo.json:1:1: no task 'deploy' in turbo.json or any package's turbo.json (add \"deploy\": {} to its tasks)"]);
  });

  it('selects variables with wildcards, exclusions and escapes as turbo does', () => {
    const env = { NEXT_PUBLIC_API: '1', NEXT_PUBLIC_SECRET: '2', NEXT_RUNTIME: '3', 'FOO*': '4', FOOD: '5', PATH: '/bin', UNSET: undefined };
    expect(matchEnv(['NEXT_PUBLIC_*', '!NEXT_PUBLIC_SECRET'], env)).toEqual(['NEXT_PUBLIC_API']);
    expect(matchEnv(['*', '!NEXT_*'], env)).toEqual(['FOO*', 'FOOD', 'PATH']);
    expect(matchEnv(['FOO\\*'], env)).toEqual(['FOO*']);
    expect(matchEnv(['FOO*'], env)).toEqual(['FOO*', 'FOOD']);
    expect(matchEnv(['UNSET', 'PATH'], env)).toEqual(['PATH']);
    expect(matchEnv([], env)).toEqual([]);
  });
});

const TURBO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'servers/turbo-cli/node_modules/.bin/turbo');

describe('against the real turbo 2.11.11', () => {
  beforeAll(() => {
    execFileSync('bash', [path.resolve(path.dirname(TURBO), '../../../install-turbo-cli.sh')], { stdio: 'inherit' });
  });

  it('plans the same tasks, edges and definitions as turbo run --dry=json', () => {
    const dir = generatedTurboRepo();
    const names = ['build', 'test', 'lint', 'dev'];
    const dry = JSON.parse(
      execFileSync(TURBO, ['run', ...names, '--dry=json'], { cwd: dir, env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
    ) as { tasks: { taskId: string; dependencies: string[]; resolvedTaskDefinition: { outputs: string[]; env: string[]; cache: boolean; persistent: boolean } }[] };
    const turbo = new Map(dry.tasks.map((t) => [t.taskId, t]));
    // The forms under test are in turbo's plan: a root task, with, extends: false, pkg#task merged with a Package Configuration.
    expect(turbo.has('//#lint') && turbo.has('api#dev') && !turbo.has('docs#lint')).toBe(true);
    expect(turbo.get('docs#test')!.dependencies).toEqual(['ui#test']);
    expect(turbo.get('api#build')!.resolvedTaskDefinition).toMatchObject({ outputs: ['out/**'], env: ['PORT'], cache: false });
    expect(turbo.get('web#build')!.resolvedTaskDefinition.outputs.sort()).toEqual(['!.next/cache/**', '.next/**', 'dist/**']);

    const { config, packageConfigs } = readRepo(dir);
    const plan = kilnPlan(config, packageConfigs, names);
    expect([...plan.keys()].sort()).toEqual([...turbo.keys()].sort());
    for (const [id, { task, deps }] of plan) {
      const theirs = turbo.get(id)!;
      expect([...deps].sort(), id).toEqual([...new Set(theirs.dependencies)].sort());
      expect(globs(task.outputs).sort(), id).toEqual([...theirs.resolvedTaskDefinition.outputs].sort());
      expect([...task.env].sort(), id).toEqual(theirs.resolvedTaskDefinition.env);
      expect({ cache: task.cache, persistent: task.persistent }, id).toEqual({ cache: theirs.resolvedTaskDefinition.cache, persistent: theirs.resolvedTaskDefinition.persistent });
    }
  });
});

const WORKSPACE_DEPS: Record<string, string[]> = { web: ['ui', 'utils'], docs: ['ui'], ui: ['utils'], utils: [], api: ['utils'], 'next-config': [] };

/** A small npm workspace with a root turbo.json, a root task, pkg#task entries and Package Configurations using every merge form. */
function generatedTurboRepo(): string {
  const dir = tempDir('kiln-turbo-');
  const files: Record<string, string> = {
    'package.json': JSON.stringify({ name: 'root', private: true, workspaces: ['packages/*'], packageManager: 'npm@10.9.0', scripts: { build: 'echo root', lint: 'echo lint' } }),
    'turbo.json': `{
  // the root config
  "tasks": {
    "build": { "dependsOn": ["^build"], "outputs": ["dist/**"], "env": ["NODE_ENV"] },
    "test": { "dependsOn": ["build", "utils#lint"], "outputs": ["coverage/**"], },
    "lint": {},
    "dev": { "cache": false, "persistent": true, "with": ["api#dev"] },
    "api#build": { "outputs": ["out/**"] },
    "//#lint": { "cache": false },
  },
}`,
    'packages/web/turbo.json': '{"extends": ["//", "next-config"], "tasks": {"build": {"env": ["$TURBO_EXTENDS$", "NEXT_PUBLIC_*"]}, "e2e": {"dependsOn": ["build"]}}}',
    'packages/next-config/turbo.json': '{"extends": ["//"], "tasks": {"build": {"outputs": ["$TURBO_EXTENDS$", ".next/**", "!.next/cache/**"]}}}',
    'packages/docs/turbo.json': '{"extends": ["//", "next-config"], "tasks": {"lint": {"extends": false}, "test": {"extends": false, "dependsOn": ["^test"]}}}',
    'packages/api/turbo.json': '{"extends": ["//"], "tasks": {"build": {"env": ["PORT"], "cache": false}}}',
  };
  for (const [name, deps] of Object.entries(WORKSPACE_DEPS)) {
    const scripts = name === 'next-config' ? {} : { build: 'echo b', test: 'echo t', lint: 'echo l', dev: 'echo d' };
    files[`packages/${name}/package.json`] = JSON.stringify({ name, version: '1.0.0', scripts, dependencies: Object.fromEntries(deps.map((d) => [d, '1.0.0'])) });
  }
  writeFiles(dir, files);
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, stdio: 'ignore' });
  execFileSync('git', ['init', '-q'], { cwd: dir });
  return dir;
}

function readRepo(dir: string): { config: TurboConfig; packageConfigs: Map<string, PackageTurboConfig> } {
  const errors: Diagnostic[] = [];
  const config = readTurboJson('turbo.json', fs.readFileSync(path.join(dir, 'turbo.json'), 'utf8'), errors, [])!;
  const packageConfigs = new Map<string, PackageTurboConfig>();
  for (const name of Object.keys(WORKSPACE_DEPS)) {
    const file = `packages/${name}/turbo.json`;
    if (fs.existsSync(path.join(dir, file))) packageConfigs.set(name, readPackageTurboJson(file, fs.readFileSync(path.join(dir, file), 'utf8'), errors, [])!);
  }
  checkPackageConfigs(packageConfigs, errors);
  expect(errors).toEqual([]);
  return { config, packageConfigs };
}

/**
 * turbo's task graph from kiln's resolver: each requested task in every
 * package that has a definition (the root only for //#task), then whatever
 * their dependsOn and with reach. A package without the script is still a
 * node (turbo's transit nodes), as it is in turbo's plan.
 */
function kilnPlan(config: TurboConfig, packageConfigs: Map<string, PackageTurboConfig>, names: string[]): Map<string, { task: TurboTask; deps: Set<string> }> {
  const plan = new Map<string, { task: TurboTask; deps: Set<string> }>();
  const queue: [string, string][] = [];
  for (const name of names) for (const pkg of ['//', ...Object.keys(WORKSPACE_DEPS)]) if (taskFor(config, packageConfigs, pkg, name)) queue.push([pkg, name]);
  for (let next = queue.shift(); next; next = queue.shift()) {
    const [pkg, name] = next;
    const id = `${pkg}#${name}`;
    if (plan.has(id)) continue;
    const task = taskFor(config, packageConfigs, pkg, name)!;
    const target = (r: TurboTask['dependsOn'][number]): [string, string][] =>
      r.kind === 'upstream' ? (WORKSPACE_DEPS[pkg] ?? []).map((d) => [d, r.task]) : [[r.kind === 'self' ? pkg : r.pkg!, r.task]];
    const deps = task.dependsOn.flatMap(target);
    plan.set(id, { task, deps: new Set(deps.map(([p, t]) => `${p}#${t}`)) });
    queue.push(...deps, ...task.with.flatMap(target));
  }
  return plan;
}
