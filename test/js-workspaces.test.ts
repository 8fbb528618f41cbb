// JS workspaces without a kiln.yaml, as a turbo, pnpm or yarn user meets
// kiln: the real package managers install them, the real turbo plans them,
// and every check compares output bytes, not only statuses.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildWithSummary, kiln, statuses, tempDir, writeFiles } from './kiln.js';
import { installManagers, runManager } from './pms.js';

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
const read = (dir: string, rel: string) => fs.readFileSync(path.join(dir, rel), 'utf8');

beforeAll(installManagers, 120_000);

interface Manager {
  name: string;
  root: Record<string, unknown>;
  files?: Record<string, string>;
  /** How app names lib, its workspace dependency. */
  link: string;
  install: string[];
}

const MANAGERS: Manager[] = [
  {
    name: 'pnpm 10',
    root: { packageManager: 'pnpm@10.34.9' },
    files: { 'pnpm-workspace.yaml': 'packages:\n  - packages/*\n' },
    link: 'workspace:*',
    install: ['pnpm', 'install', '--no-frozen-lockfile', '--loglevel=error'],
  },
  { name: 'yarn 1', root: { workspaces: ['packages/*'] }, link: '1.0.0', install: ['yarn1', 'install', '--silent', '--non-interactive'] },
  {
    name: 'yarn 4',
    root: { packageManager: 'yarn@4.18.1', workspaces: ['packages/*'] },
    files: { 'yarn.lock': '', '.yarnrc.yml': 'nodeLinker: node-modules\n' },
    link: 'workspace:^',
    install: ['yarn4', 'install', '--mode=skip-build'],
  },
];

describe.each(MANAGERS)('$name workspace, kiln build with no flags', (pm) => {
  it('never serves a stale dependent (issue 14 recipe), and keys lint on a config package without a lint script', async () => {
    const dir = tempDir('kiln-pm-ws-');
    const cacheDir = path.join(tempDir('kiln-pm-cache-'), 'cache');
    writeFiles(dir, {
      'package.json': json({ name: 'root', private: true, ...pm.root }),
      ...pm.files,
      'packages/lib/package.json': json({ name: 'lib', version: '1.0.0', scripts: { build: 'mkdir -p dist && cp src.txt dist/out.txt' } }),
      'packages/lib/src.txt': 'v1\n',
      'packages/config/package.json': json({ name: 'config', version: '1.0.0' }),
      'packages/config/rules.txt': 'rules-v1\n',
      'packages/app/package.json': json({
        name: 'app',
        version: '1.0.0',
        dependencies: { lib: pm.link, config: pm.link },
        scripts: { build: 'mkdir -p dist && cat ../lib/dist/out.txt > dist/app.txt', lint: 'cat ../config/rules.txt > lint.txt' },
      }),
    });
    runManager(dir, pm.install);
    const build = (...args: string[]) => buildWithSummary(dir, ['--cache-dir', cacheDir, '--logs', 'none', ...args]);
    const edit = (rel: string, text: string) => fs.writeFileSync(path.join(dir, rel), text);

    expect(statuses((await build()).summary).built).toEqual(['app#build', 'lib#build']);
    edit('packages/lib/src.txt', 'v2\n');
    expect(statuses((await build()).summary).built).toEqual(['app#build', 'lib#build']);
    edit('packages/lib/src.txt', 'v3\n');
    await build();
    expect(read(dir, 'packages/app/dist/app.txt')).toBe('v3\n');
    expect(statuses((await build()).summary).built).toEqual([]);

    expect(statuses((await build('--npm', 'lint')).summary).built).toEqual(['app#lint']);
    edit('packages/config/rules.txt', 'rules-v2\n');
    expect(statuses((await build('--npm', 'lint')).summary).built).toEqual(['app#lint']);
    expect(read(dir, 'packages/app/lint.txt')).toBe('rules-v2\n');
    expect(statuses((await build('--npm', 'lint')).summary).built).toEqual([]);
  });
});

const TURBO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'servers/turbo-cli/node_modules/.bin/turbo');

/**
 * A turbo repo: ui -> utils, web -> ui (and tsconfig, a package with no
 * scripts), docs -> ui. build has outputs dist/** and .next/** without
 * .next/cache; test depends on its own build; lint has none.
 */
function turboRepo(): string {
  const dir = tempDir('kiln-turbo-ws-');
  const pkg = (name: string, deps: string[], scripts: Record<string, string>) =>
    json({ name, version: '1.0.0', dependencies: Object.fromEntries(deps.map((d) => [d, '1.0.0'])), scripts });
  writeFiles(dir, {
    'package.json': json({ name: 'root', private: true, workspaces: ['packages/*', 'apps/*'], packageManager: 'npm@10.9.0' }),
    '.gitignore': 'node_modules\n',
    'turbo.json': `{
  "$schema": "https://turborepo.com/schema.json",
  "ui": "stream",
  "globalDependencies": ["shared.txt"],
  "tasks": {
    // build what you depend on first
    "build": { "dependsOn": ["^build"], "outputs": ["dist/**", ".next/**", "!.next/cache/**"], "env": ["API_URL"] },
    "test": { "dependsOn": ["build"], "inputs": ["src/**", "test/**"] },
    "lint": {},
    "stamp": { "cache": false },
    "dev": { "persistent": true, "cache": false },
  },
}
`,
    'shared.txt': 'shared v1\n',
    'packages/utils/package.json': pkg('utils', [], { build: 'mkdir -p dist && cat src/u.txt > dist/u.txt', lint: 'echo lint utils' }),
    'packages/utils/src/u.txt': 'utils v1\n',
    'packages/tsconfig/package.json': pkg('tsconfig', [], {}),
    'packages/tsconfig/base.json': '{}\n',
    'packages/ui/package.json': pkg('ui', ['utils'], {
      build: 'mkdir -p dist && cat ../utils/dist/u.txt src/ui.txt > dist/ui.txt',
      test: 'mkdir -p dist && cat dist/ui.txt > test-out.txt',
    }),
    'packages/ui/src/ui.txt': 'ui v1\n',
    'packages/ui/README.md': 'not a test input\n',
    'apps/web/package.json': pkg('web', ['ui', 'tsconfig'], {
      build: 'mkdir -p .next/cache && cat ../../packages/ui/dist/ui.txt > .next/page.txt && echo "api=$API_URL" >> .next/page.txt && date +%s%N > .next/cache/stamp',
      stamp: 'date +%s%N > stamp.txt',
      dev: 'sleep 1000',
    }),
    'apps/docs/package.json': pkg('docs', ['ui'], { build: 'mkdir -p dist && cat ../../packages/ui/dist/ui.txt > dist/docs.txt', lint: 'echo lint docs' }),
  });
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, stdio: 'ignore' });
  execFileSync('git', ['init', '-q'], { cwd: dir });
  return dir;
}

/** turbo's plan with its transit nodes (tasks of packages without the script) contracted away, as kiln's graph has none. */
function turboPlan(dir: string, tasks: string[]): Map<string, string[]> {
  const dry = JSON.parse(
    execFileSync(TURBO, ['run', ...tasks, '--dry=json'], {
      cwd: dir,
      env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }),
  ) as { tasks: { taskId: string; command: string; dependencies: string[] }[] };
  const byId = new Map(dry.tasks.map((t) => [t.taskId, t]));
  const real = (id: string) => byId.get(id)!.command !== '<NONEXISTENT>';
  const contracted = (deps: string[]): string[] => {
    const out = new Set<string>();
    const stack = [...deps];
    while (stack.length > 0) {
      const d = stack.pop()!;
      if (real(d)) out.add(d);
      else stack.push(...byId.get(d)!.dependencies);
    }
    return [...out].sort();
  };
  return new Map(dry.tasks.filter((t) => real(t.taskId)).map((t) => [t.taskId, contracted(t.dependencies)]));
}

async function kilnPlan(dir: string, tasks: string[]): Promise<Map<string, string[]>> {
  const r = await kiln(dir, ['graph', '--format', 'json', '--npm', tasks.join(',')]);
  expect(r.exitCode, r.stderr).toBe(0);
  const graph = JSON.parse(r.stdout) as { nodes: { id: string; deps: string[] }[] };
  return new Map(graph.nodes.map((n) => [n.id, [...n.deps].sort()]));
}

describe('a turbo.json repository, kiln build with no flags', () => {
  beforeAll(() => {
    execFileSync('bash', [path.resolve(path.dirname(TURBO), '../../../install-turbo-cli.sh')], { stdio: 'inherit' });
  }, 120_000);

  it('plans the graph turbo plans: the same tasks and order constraints', async () => {
    const dir = turboRepo();
    for (const tasks of [['build'], ['test'], ['build', 'lint', 'test']]) {
      expect(Object.fromEntries(await kilnPlan(dir, tasks)), tasks.join(',')).toEqual(Object.fromEntries(turboPlan(dir, tasks)));
    }
  });

  it('caches output globs (not what they exclude), keys declared env and global files, narrows inputs, never caches cache: false', async () => {
    const dir = turboRepo();
    const cacheDir = path.join(tempDir('kiln-turbo-cache-'), 'cache');
    const build = (args: string[] = [], env: Record<string, string> = {}) =>
      buildWithSummary(dir, ['--cache-dir', cacheDir, '--logs', 'none', ...args], { API_URL: 'one', ...env });
    const cold = await build();
    expect(cold.exitCode, cold.stderr + cold.stdout).toBe(0);
    expect(statuses(cold.summary).built).toEqual(['docs#build', 'ui#build', 'utils#build', 'web#build']);
    expect(read(dir, 'apps/web/.next/page.txt')).toBe('utils v1\nui v1\napi=one\n');
    expect(cold.stderr).not.toContain('warning');

    // Restore: .next/page.txt comes back, .next/cache (excluded) is left as it is.
    const stamp = read(dir, 'apps/web/.next/cache/stamp');
    fs.rmSync(path.join(dir, 'apps/web/.next/page.txt'));
    const restored = await build();
    expect(statuses(restored.summary).built).toEqual([]);
    expect(read(dir, 'apps/web/.next/page.txt')).toBe('utils v1\nui v1\napi=one\n');
    expect(read(dir, 'apps/web/.next/cache/stamp')).toBe(stamp);

    // Declared env: a new value rebuilds the tasks that declare it (all builds here), with its bytes.
    const env2 = await build([], { API_URL: 'two' });
    expect(statuses(env2.summary).built).toEqual(['docs#build', 'ui#build', 'utils#build', 'web#build']);
    expect(read(dir, 'apps/web/.next/page.txt')).toBe('utils v1\nui v1\napi=two\n');
    // An undeclared one changes nothing.
    expect(statuses((await build([], { OTHER: 'x' })).summary).built).toEqual([]);

    // globalDependencies: every task keys on them.
    fs.writeFileSync(path.join(dir, 'shared.txt'), 'shared v2\n');
    expect(statuses((await build()).summary).built).toEqual(['docs#build', 'ui#build', 'utils#build', 'web#build']);

    // test's inputs are src/** and test/** (and package.json): README is not one of them.
    expect(statuses((await build(['--npm', 'test'])).summary).built).toEqual(['ui#test']);
    fs.writeFileSync(path.join(dir, 'packages/ui/README.md'), 'edited\n');
    expect(statuses((await build(['--npm', 'test'])).summary).built).toEqual(['ui#build']);
    fs.writeFileSync(path.join(dir, 'packages/ui/src/ui.txt'), 'ui v2\n');
    const t = await build(['--npm', 'test']);
    // As turbo plans `turbo run test`: every package's test (a transit node where it has no script) depends on its build.
    expect(statuses(t.summary).built).toEqual(['docs#build', 'ui#build', 'ui#test', 'web#build']);
    expect(read(dir, 'packages/ui/test-out.txt')).toBe('utils v1\nui v2\n');

    // cache: false runs every time.
    expect(statuses((await build(['--npm', 'stamp'])).summary).built).toEqual(['web#stamp']);
    expect(statuses((await build(['--npm', 'stamp'])).summary).built).toEqual(['web#stamp']);
  });

  it('says what it does not do: persistent tasks, root tasks, settings it cannot honour, --npm-outputs over turbo.json', async () => {
    const dir = turboRepo();
    const dev = await kiln(dir, ['build', '--npm', 'dev']);
    expect(dev.exitCode).toBe(2);
    expect(dev.stderr).toMatch(/turbo\.json:\d+:\d+: task 'web#dev' is persistent/);
    const outputs = await kiln(dir, ['build', '--npm-outputs', 'dist']);
    expect(outputs.exitCode).toBe(2);
    expect(outputs.stderr).toContain('--npm-outputs: turbo.json declares the outputs of each task');
    const unknown = await kiln(dir, ['build', '--npm', 'deploy']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain("no task 'deploy' in turbo.json");

    const turbo = read(dir, 'turbo.json');
    fs.writeFileSync(path.join(dir, 'turbo.json'), turbo.replace('"ui": "stream",', '"ui": "stream", "envMode": "loose",').replace('"lint": {},', '"lint": {}, "//#lint": {},'));
    const warned = await kiln(dir, ['build', '--npm', 'lint', '--dry-run']);
    expect(warned.exitCode, warned.stderr).toBe(0);
    expect(warned.stderr).toMatch(/warning: turbo\.json:\d+:\d+: .*envMode/);
    expect(warned.stderr).toMatch(/warning: turbo\.json:\d+:\d+: root task '\/\/#lint' is not run by kiln/);

    fs.writeFileSync(path.join(dir, 'turbo.json'), turbo.replace('"lint": {},', '"lint": { "outputz": [] },'));
    const bad = await kiln(dir, ['build']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/turbo\.json:9:15: task 'lint': unknown key 'outputz'\n  hint: did you mean 'outputs'\?/);
  });
});

describe('the lockfile', () => {
  it('an npm update within a range rebuilds the packages that resolve it and their dependents, nothing else', async () => {
    const dir = tempDir('kiln-lock-');
    const cacheDir = path.join(tempDir('kiln-lock-cache-'), 'cache');
    const root = (pin: boolean) => json({ name: 'root', private: true, workspaces: ['packages/*'], ...(pin ? { overrides: { wrappy: '1.0.1' } } : {}) });
    const script = (name: string, from: string) => `mkdir -p dist && { echo ${name}; ${from} } > dist/out.txt`;
    writeFiles(dir, {
      'package.json': root(true),
      'packages/a/package.json': json({ name: 'a', version: '1.0.0', dependencies: { wrappy: '^1.0.0' }, scripts: { build: script('a', 'node -p "require(\'wrappy/package.json\').version";') } }),
      'packages/b/package.json': json({ name: 'b', version: '1.0.0', dependencies: { 'left-pad': '^1.1.0' }, scripts: { build: script('b', '') } }),
      'packages/c/package.json': json({ name: 'c', version: '1.0.0', dependencies: { a: '1.0.0' }, scripts: { build: script('c', 'cat ../a/dist/out.txt;') } }),
    });
    runManager(dir, ['npm', 'install', '--no-audit', '--no-fund', '--loglevel=error']);
    const build = () => buildWithSummary(dir, ['--cache-dir', cacheDir, '--logs', 'none']);
    expect(statuses((await build()).summary).built).toEqual(['a#build', 'b#build', 'c#build']);
    expect(read(dir, 'packages/c/dist/out.txt')).toBe('c\na\n1.0.1\n');
    fs.writeFileSync(path.join(dir, 'package.json'), root(false));
    expect(statuses((await build()).summary).built).toEqual([]); // the root package.json is no package's input
    runManager(dir, ['npm', 'update', 'wrappy', '--no-audit', '--no-fund', '--loglevel=error']);
    const updated = await build();
    expect(statuses(updated.summary).built).toEqual(['a#build', 'c#build']);
    expect(read(dir, 'packages/c/dist/out.txt')).toBe('c\na\n1.0.2\n');
    const why = await kiln(dir, ['why', 'a#build']);
    expect(why.stdout).toContain('up to date');
  });
});

describe('the other commands without a kiln.yaml', () => {
  it('why, graph, clean, history, report and daemon status use the last build’s workspace', async () => {
    const dir = tempDir('kiln-nokiln-');
    const cacheDir = path.join(tempDir('kiln-nokiln-cache-'), 'cache');
    writeFiles(dir, {
      'package.json': json({ name: 'root', private: true, workspaces: ['packages/*'] }),
      'packages/lib/package.json': json({ name: 'lib', scripts: { build: 'mkdir -p dist && echo lib > dist/l.txt', check: 'echo ok' } }),
    });
    execFileSync('git', ['init', '-q'], { cwd: dir });
    const built = await buildWithSummary(dir, ['--npm', 'check', '--cache-dir', cacheDir]);
    expect(statuses(built.summary).built).toEqual(['lib#check']);
    const graph = await kiln(dir, ['graph', '--format', 'json']);
    expect(graph.exitCode, graph.stderr).toBe(0);
    expect((JSON.parse(graph.stdout) as { nodes: { id: string }[] }).nodes.map((n) => n.id)).toEqual(['lib#check']);
    const why = await kiln(dir, ['why', 'lib#check']);
    expect(why.stdout).toContain('lib#check: up to date');
    const history = await kiln(dir, ['history']);
    expect(history.exitCode, history.stderr).toBe(0);
    expect(history.stdout).toContain('build');
    const report = await kiln(dir, ['report', '--output', path.join(tempDir(), 'r.html')]);
    expect(report.exitCode, report.stderr).toBe(0);
    const status = await kiln(dir, ['daemon', 'status']);
    expect(status.stdout + status.stderr).not.toContain('no kiln.yaml');
    const clean = await kiln(dir, ['clean']);
    expect(clean.exitCode, clean.stderr).toBe(0);
    // .kiln/ keeps itself out of git status.
    expect(execFileSync('git', ['status', '--porcelain'], { cwd: dir, encoding: 'utf8' })).not.toContain('.kiln');
  });
});

describe('kiln init', () => {
  it('writes a kiln.yaml with the outputs each package wrote in the last build, and nothing where turbo.json says it all', async () => {
    const dir = tempDir('kiln-init-');
    const cacheDir = path.join(tempDir('kiln-init-cache-'), 'cache');
    writeFiles(dir, {
      'package.json': json({ name: 'root', private: true, workspaces: ['packages/*'] }),
      'packages/a/package.json': json({ name: 'a', scripts: { build: 'mkdir -p dist && echo a > dist/a.js', test: 'true' } }),
      'packages/b/package.json': json({ name: 'b', dependencies: { a: '*' }, scripts: { build: 'mkdir -p dist && echo b > dist/b.js' } }),
      // A leftover empty dir inside .next, and a dir named like a file (v1.2): still whole dirs.
      'packages/site/package.json': json({ name: 'site', scripts: { build: 'mkdir -p .next/cache v1.2 && echo s > .next/page.html && echo v > v1.2/x' } }),
      'packages/types/package.json': json({ name: 'types', scripts: { build: 'true' } }),
    });
    expect((await buildWithSummary(dir, ['--cache-dir', cacheDir])).exitCode).toBe(0);
    const init = await kiln(dir, ['init']);
    expect(init.exitCode, init.stderr).toBe(0);
    const text = read(dir, 'kiln.yaml');
    expect(text).toContain('      build:   # 4 packages');
    expect(text).toContain('        outputs: ["dist/**"]   # 2 of 4 packages');
    // Only build is active: writing the file changes what kiln build runs only by the outputs it declares.
    expect(text).toContain("      # test: {dependsOn: [build]}   # 1 packages; after the package's own build: uncomment to run it with kiln build");
    expect(text).toContain('      "site":\n        build: {outputs: [".next/**", "v1.2/**", "!.next/cache/**"]}');
    expect(text).toContain('      "types":\n        build: {outputs: []}');
    // The file it wrote builds, and the outputs it declares are restored.
    const built = await buildWithSummary(dir, ['--cache-dir', cacheDir]);
    expect(built.exitCode, built.stderr).toBe(0);
    expect(built.summary.nodes.every((n) => (n.notes ?? []).every((note) => !note.includes('no output declares')))).toBe(true);
    fs.rmSync(path.join(dir, 'packages/site/.next'), { recursive: true });
    expect(statuses((await buildWithSummary(dir, ['--cache-dir', cacheDir])).summary).built).toEqual([]);
    expect(read(dir, 'packages/site/.next/page.html')).toBe('s\n');
    const again = await kiln(dir, ['init']);
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toContain('kiln.yaml exists');

    const turbo = turboRepo();
    const said = await kiln(turbo, ['init']);
    expect(said.stdout).toContain('turbo.json configures the tasks here');
    expect(fs.existsSync(path.join(turbo, 'kiln.yaml'))).toBe(false);
  });
});


describe('shapes found in real repositories', () => {
  it('solid: package-specific turbo tasks, a pkg#task dependency, **/dist/** outputs, a root named like a package', async () => {
    const dir = tempDir('kiln-solid-');
    const cacheDir = path.join(tempDir('kiln-solid-cache-'), 'cache');
    writeFiles(dir, {
      'package.json': json({ name: 'solid-js', private: true, packageManager: 'pnpm@10.34.9' }),
      'pnpm-workspace.yaml': 'packages:\n  - packages/*\n',
      '.gitignore': 'node_modules\ndist\ntypes\nsrc/jsx.d.ts\n',
      'turbo.json': json({
        tasks: {
          build: { dependsOn: ['^build'], outputs: ['dist/**'] },
          'solid-js#build': { dependsOn: ['^build'], outputs: ['dist/**', '**/dist/**'] },
          'solid-js#types': { outputs: ['types/**', 'src/jsx.d.ts'] },
          'solid-element#build': { dependsOn: ['^build', 'solid-js#types'], outputs: ['dist/**'] },
        },
      }),
      'packages/solid/package.json': json({
        name: 'solid-js',
        version: '1.0.0',
        scripts: {
          build: 'mkdir -p dist store/dist web/dist && cat src/core.txt > dist/solid.js && echo store > store/dist/store.js && echo web > web/dist/web.js',
          types: 'mkdir -p types && cat src/core.txt > types/index.d.ts && echo jsx > src/jsx.d.ts',
        },
      }),
      'packages/solid/src/core.txt': 'core v1\n',
      'packages/element/package.json': json({
        name: 'solid-element',
        version: '1.0.0',
        dependencies: { 'solid-js': 'workspace:*' },
        scripts: { build: 'mkdir -p dist && cat ../solid/types/index.d.ts ../solid/dist/solid.js > dist/element.js' },
      }),
    });
    const build = () => buildWithSummary(dir, ['--cache-dir', cacheDir, '--logs', 'none']);
    const cold = await build();
    expect(cold.exitCode, cold.stderr + cold.stdout).toBe(0);
    expect(statuses(cold.summary).built).toEqual(['solid-element#build', 'solid-js#build', 'solid-js#types']);
    const graph = JSON.parse((await kiln(dir, ['graph', '--format', 'json'])).stdout) as { nodes: { id: string; deps: string[] }[] };
    expect(graph.nodes.find((n) => n.id === 'solid-element#build')!.deps.sort()).toEqual(['solid-js#build', 'solid-js#types']);
    expect(read(dir, 'packages/element/dist/element.js')).toBe('core v1\ncore v1\n');
    expect(statuses((await build()).summary).built).toEqual([]);
    // Every dist, nested ones included, comes back from the cache.
    for (const d of ['dist', 'store/dist', 'web/dist', 'types']) fs.rmSync(path.join(dir, 'packages/solid', d), { recursive: true });
    const restored = await build();
    expect(statuses(restored.summary).built).toEqual([]);
    expect(read(dir, 'packages/solid/store/dist/store.js')).toBe('store\n');
    expect(read(dir, 'packages/solid/web/dist/web.js')).toBe('web\n');
    fs.writeFileSync(path.join(dir, 'packages/solid/src/core.txt'), 'core v2\n');
    expect(statuses((await build()).summary).built).toEqual(['solid-element#build', 'solid-js#build', 'solid-js#types']);
    expect(read(dir, 'packages/element/dist/element.js')).toBe('core v2\ncore v2\n');
  });

  it('headlessui: one output list for all packages, one package writing elsewhere: a note, not a failure', async () => {
    const dir = tempDir('kiln-hui-');
    const cacheDir = path.join(tempDir('kiln-hui-cache-'), 'cache');
    writeFiles(dir, {
      'package.json': json({ name: 'root', private: true, workspaces: ['packages/*', 'playgrounds/*'] }),
      'packages/react/package.json': json({ name: '@headlessui/react', scripts: { build: 'mkdir -p dist && echo react > dist/index.js' } }),
      'playgrounds/react/package.json': json({ name: 'playground-react', dependencies: { '@headlessui/react': '*' }, scripts: { build: 'mkdir -p .next && cat ../../packages/react/dist/index.js > .next/page.html' } }),
    });
    const build = () => buildWithSummary(dir, ['--npm', 'build', '--npm-outputs', 'dist', '--cache-dir', cacheDir, '--logs', 'none']);
    const cold = await build();
    expect(cold.exitCode, cold.stderr + cold.stdout).toBe(0);
    expect(statuses(cold.summary).built).toEqual(['@headlessui/react#build', 'playground-react#build']);
    expect(cold.summary.nodes.find((n) => n.id === 'playground-react#build')!.notes).toEqual([
      'produced none of its declared outputs: dist',
      'wrote .next, outside its declared outputs: not cached (a run brings it back when it is gone)',
      `declare them as outputs: [".next/**","!.next/cache/**"] with --npm-outputs (or 'kiln init', which writes a kiln.yaml declaring them)`,
    ]);
    expect(statuses((await build()).summary).built).toEqual([]);
    // Strictness applies when a script runs: in a fresh checkout with an empty cache.
    fs.rmSync(path.join(dir, '.kiln'), { recursive: true });
    const strict = await buildWithSummary(dir, ['--npm', 'build', '--npm-outputs', 'dist', '--strict-outputs', '--cache-dir', `${cacheDir}-strict`, '--logs', 'none']);
    expect(strict.exitCode).toBe(1);
    expect(strict.summary.nodes.find((n) => n.id === 'playground-react#build')!.error).toBe('declared output not produced: dist');
  });

  it('nested packages: a package is not an input of the one around it, and a sibling named like its prefix is not nested', async () => {
    const dir = tempDir('kiln-nested-');
    const cacheDir = path.join(tempDir('kiln-nested-cache-'), 'cache');
    const build = (name: string) => `mkdir -p dist && { echo ${name}; cat *.txt; } > dist/out.txt`;
    writeFiles(dir, {
      'package.json': json({ name: 'root', private: true, workspaces: ['tools', 'tools/*', 'tools-x'] }),
      'tools/package.json': json({ name: 'tools', version: '1.0.0', scripts: { build: build('tools') } }),
      'tools/t.txt': 't1\n',
      'tools/sub/package.json': json({ name: 'sub', version: '1.0.0', scripts: { build: build('sub') } }),
      'tools/sub/s.txt': 's1\n',
      'tools-x/package.json': json({ name: 'tools-x', version: '1.0.0', scripts: { build: build('tools-x') } }),
      'tools-x/x.txt': 'x1\n',
    });
    const run = () => buildWithSummary(dir, ['--npm', 'build', '--npm-outputs', 'dist', '--cache-dir', cacheDir, '--logs', 'none']);
    expect(statuses((await run()).summary).built).toEqual(['sub#build', 'tools#build', 'tools-x#build']);
    fs.writeFileSync(path.join(dir, 'tools/sub/s.txt'), 's2\n');
    expect(statuses((await run()).summary).built).toEqual(['sub#build']);
    expect(read(dir, 'tools/sub/dist/out.txt')).toBe('sub\ns2\n');
    fs.writeFileSync(path.join(dir, 'tools-x/x.txt'), 'x2\n');
    expect(statuses((await run()).summary).built).toEqual(['tools-x#build']);
    fs.writeFileSync(path.join(dir, 'tools/t.txt'), 't2\n');
    expect(statuses((await run()).summary).built).toEqual(['tools#build']);
    expect(read(dir, 'tools/dist/out.txt')).toBe('tools\nt2\n');
  });
});
