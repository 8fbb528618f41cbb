// Never stale on the npm path: scripts that declare no outputs, write
// undeclared files into their own package, or read packages that have no
// such script. Every check compares output bytes, not only statuses.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildWithSummary, statuses, tempDir, writeFiles } from './kiln.js';

const pkg = (json: Record<string, unknown>) => `${JSON.stringify(json)}\n`;

/** The workspace of issue 14's recipe: app's build copies lib's dist, nothing declares outputs. */
function recipe(extra: Record<string, string> = {}): { dir: string; build: (...args: string[]) => ReturnType<typeof buildWithSummary> } {
  const dir = tempDir('kiln-stale-');
  const cacheDir = path.join(tempDir('kiln-stale-cache-'), 'cache');
  writeFiles(dir, {
    'package.json': pkg({ name: 'root', private: true, workspaces: ['packages/*'] }),
    'packages/lib/src.txt': 'v1\n',
    'packages/lib/package.json': pkg({ name: 'lib', version: '1.0.0', scripts: { build: 'mkdir -p dist && cp src.txt dist/out.txt' } }),
    'packages/app/package.json': pkg({
      name: 'app',
      version: '1.0.0',
      dependencies: { lib: '1.0.0' },
      scripts: { build: 'mkdir -p dist && cat ../lib/dist/out.txt > dist/app.txt' },
    }),
    ...extra,
  });
  return { dir, build: (...args) => buildWithSummary(dir, ['--npm', 'build', '--cache-dir', cacheDir, '--logs', 'none', ...args]) };
}

const read = (dir: string, rel: string) => fs.readFileSync(path.join(dir, rel), 'utf8');

describe('npm scripts without declared outputs', () => {
  const VARIANTS: Record<string, Record<string, string>> = {
    'no .gitignore': {},
    'dist/ in .gitignore': { '.gitignore': 'dist/\n' },
    '--npm-outputs dist': {},
    'turbo.json without outputs': { 'turbo.json': JSON.stringify({ tasks: { build: { dependsOn: ['^build'] } } }) },
    'turbo.json with outputs': { 'turbo.json': JSON.stringify({ tasks: { build: { dependsOn: ['^build'], outputs: ['dist/**'] } } }) },
  };
  for (const [variant, files] of Object.entries(VARIANTS)) {
    it(`never serves a stale dependent and settles after one build (${variant})`, async () => {
      const { dir, build } = recipe(files);
      const args = variant === '--npm-outputs dist' ? ['--npm-outputs', 'dist'] : [];
      const edit = (v: string) => fs.writeFileSync(path.join(dir, 'packages/lib/src.txt'), `${v}\n`);

      expect(statuses((await build(...args)).summary).built).toEqual(['app#build', 'lib#build']);
      const noop = await build(...args);
      expect(statuses(noop.summary).built).toEqual([]);
      // Up to date (nothing restored) is told apart from restored, in the summary and the log.
      expect(noop.summary.nodes.map((n) => [n.cache, n.upToDate])).toEqual([['local', true], ['local', true]]);
      expect(noop.stdout).toContain('cached  lib#build (up to date)');
      edit('v2');
      expect(statuses((await build(...args)).summary).built).toEqual(['app#build', 'lib#build']);
      edit('v3');
      const v3 = await build(...args);
      expect(v3.exitCode, v3.stderr).toBe(0);
      expect(statuses(v3.summary).built).toEqual(['app#build', 'lib#build']);
      expect(read(dir, 'packages/app/dist/app.txt')).toBe('v3\n');
      expect(statuses((await build(...args)).summary).built).toEqual([]);

      // Back to v2: both come from the cache, and app's bytes are v2's again.
      edit('v2');
      const back = await build(...args);
      expect(statuses(back.summary).cached).toEqual(['app#build', 'lib#build']);
      expect(read(dir, 'packages/lib/dist/out.txt')).toBe('v2\n');
      expect(read(dir, 'packages/app/dist/app.txt')).toBe('v2\n');

      // Every output deleted: restored, undeclared ones included, byte for byte.
      fs.rmSync(path.join(dir, 'packages/lib/dist'), { recursive: true });
      fs.rmSync(path.join(dir, 'packages/app/dist'), { recursive: true });
      const restored = await build(...args);
      expect(statuses(restored.summary).cached).toEqual(['app#build', 'lib#build']);
      expect(restored.summary.nodes.map((n) => [n.cache, n.upToDate])).toEqual([['local', undefined], ['local', undefined]]);
      expect(restored.stdout).toContain('cached  lib#build (restored: local)');
      expect(read(dir, 'packages/app/dist/app.txt')).toBe('v2\n');
      expect(statuses((await build(...args)).summary).built).toEqual([]);
    });
  }

  it('says which files a script wrote that no output declares, and how to declare them', async () => {
    const { build } = recipe();
    const cold = await build();
    const lib = cold.summary.nodes.find((n) => n.id === 'lib#build')!;
    expect(lib.notes).toEqual([
      'wrote dist, which no output declares: cached and restored as undeclared outputs',
      `declare them as outputs: ["dist/**"] with --npm-outputs (or 'kiln init', which writes a kiln.yaml declaring them)`,
    ]);
    expect(cold.stdout).toContain('wrote dist, which no output declares');
  });

  it('keys a task on packages it depends on that have no such script (the lint recipe)', async () => {
    const dir = tempDir('kiln-stale-lint-');
    const cacheDir = path.join(tempDir('kiln-stale-cache-'), 'cache');
    writeFiles(dir, {
      'package.json': pkg({ name: 'root', private: true, workspaces: ['packages/*'] }),
      'packages/config/package.json': pkg({ name: 'config', version: '1.0.0', dependencies: { base: '*' } }),
      'packages/config/rules.txt': 'rules-v1\n',
      // Two packages deep: config passes through to base, which has no lint script either.
      'packages/base/package.json': pkg({ name: 'base', version: '1.0.0' }),
      'packages/base/level.txt': 'warn\n',
      'packages/app/package.json': pkg({
        name: 'app',
        version: '1.0.0',
        dependencies: { config: '1.0.0' },
        scripts: { lint: 'mkdir -p out && cat ../config/rules.txt ../base/level.txt > out/lint.txt' },
      }),
    });
    const lint = () => buildWithSummary(dir, ['--npm', 'lint', '--cache-dir', cacheDir, '--logs', 'none']);
    expect(statuses((await lint()).summary).built).toEqual(['app#lint']);
    fs.writeFileSync(path.join(dir, 'packages/config/rules.txt'), 'rules-v2\n');
    expect(statuses((await lint()).summary).built).toEqual(['app#lint']);
    expect(read(dir, 'packages/app/out/lint.txt')).toBe('rules-v2\nwarn\n');
    fs.writeFileSync(path.join(dir, 'packages/base/level.txt'), 'error\n');
    expect(statuses((await lint()).summary).built).toEqual(['app#lint']);
    expect(read(dir, 'packages/app/out/lint.txt')).toBe('rules-v2\nerror\n');
    expect(statuses((await lint()).summary).built).toEqual([]);
    // Back to rules-v1: replayed from the cache with v1's bytes.
    fs.writeFileSync(path.join(dir, 'packages/config/rules.txt'), 'rules-v1\n');
    fs.writeFileSync(path.join(dir, 'packages/base/level.txt'), 'warn\n');
    const back = await lint();
    expect(statuses(back.summary).cached).toEqual(['app#lint']);
    expect(read(dir, 'packages/app/out/lint.txt')).toBe('rules-v1\nwarn\n');
  });

  it('settles a script that rewrites its own sources, and reruns it when they are edited again', async () => {
    const { dir, build } = recipe({
      // A formatter: rewrites src.txt (upper case) and creates nothing.
      'packages/lib/package.json': pkg({ name: 'lib', version: '1.0.0', scripts: { build: "tr a-z A-Z < src.txt > src.tmp && mv src.tmp src.txt" } }),
      'packages/app/package.json': pkg({ name: 'app', version: '1.0.0', dependencies: { lib: '1.0.0' }, scripts: { build: 'mkdir -p dist && cat ../lib/src.txt > dist/app.txt' } }),
    });
    const cold = await build();
    expect(statuses(cold.summary).built).toEqual(['app#build', 'lib#build']);
    expect(cold.summary.nodes.find((n) => n.id === 'lib#build')!.notes).toEqual(['rewrote src.txt, which it also reads']);
    expect(read(dir, 'packages/app/dist/app.txt')).toBe('V1\n');
    expect(statuses((await build()).summary).built).toEqual([]);
    fs.writeFileSync(path.join(dir, 'packages/lib/src.txt'), 'v4\n');
    expect(statuses((await build()).summary).built).toEqual(['app#build', 'lib#build']);
    expect(read(dir, 'packages/app/dist/app.txt')).toBe('V4\n');
    expect(statuses((await build()).summary).built).toEqual([]);
  });

  it('runs two scripts of one package one at a time, so neither caches the other’s writes', async () => {
    const dir = tempDir('kiln-stale-pair-');
    const cacheDir = path.join(tempDir('kiln-stale-cache-'), 'cache');
    writeFiles(dir, {
      'package.json': pkg({ name: 'root', private: true, workspaces: ['packages/*'] }),
      'packages/one/package.json': pkg({
        name: 'one',
        scripts: { build: 'mkdir -p dist && sleep 0.3 && echo b > dist/b.txt', lint: 'mkdir -p lint && sleep 0.3 && echo l > lint/l.txt' },
      }),
    });
    const run = () => buildWithSummary(dir, ['--npm', 'build,lint', '-j', '2', '--cache-dir', cacheDir, '--logs', 'none']);
    const cold = await run();
    expect(statuses(cold.summary).built).toEqual(['one#build', 'one#lint']);
    const notes = Object.fromEntries(cold.summary.nodes.map((n) => [n.id, n.notes?.[0]]));
    expect(notes['one#build']).toMatch(/^wrote dist,/);
    expect(notes['one#lint']).toMatch(/^wrote lint,/);
    // Restoring each node restores its own files only.
    fs.rmSync(path.join(dir, 'packages/one/dist'), { recursive: true });
    const restored = await run();
    expect(statuses(restored.summary).cached).toEqual(['one#build', 'one#lint']);
    expect(read(dir, 'packages/one/dist/b.txt')).toBe('b\n');
    expect(read(dir, 'packages/one/lint/l.txt')).toBe('l\n');
  });

  it('built alone in a larger workspace, a script still leaves out what its sibling wrote', async () => {
    // One target of 12 nodes: the build reads only the states it needs (the target's and its siblings').
    const dir = tempDir('kiln-stale-alone-');
    const cacheDir = path.join(tempDir('kiln-stale-cache-'), 'cache');
    const others = Object.fromEntries(
      Array.from({ length: 10 }, (_, i) => [`packages/p${i}/package.json`, pkg({ name: `p${i}`, scripts: { build: `mkdir -p dist && echo ${i} > dist/i.txt` } })]),
    );
    writeFiles(dir, {
      'package.json': pkg({ name: 'root', private: true, workspaces: ['packages/*'] }),
      'packages/one/package.json': pkg({ name: 'one', scripts: { build: 'mkdir -p dist && cat src/* > dist/b.txt', lint: 'mkdir -p lint && echo l > lint/l.txt' } }),
      'packages/one/src/a.txt': 'a1\n',
      ...others,
    });
    const run = (...targets: string[]) => buildWithSummary(dir, ['--npm', 'build,lint', '--cache-dir', cacheDir, '--logs', 'none', ...targets]);
    const all = await run();
    expect(all.summary.nodes.filter((n) => n.status === 'built')).toHaveLength(12);
    const alone = await run('one#build');
    expect(alone.summary.nodes.find((n) => n.id === 'one#build')).toMatchObject({ status: 'cached', upToDate: true });
    writeFiles(dir, { 'packages/one/src/a.txt': 'a2\n' });
    const edited = await run('one#build');
    expect(statuses(edited.summary).built).toEqual(['one#build']);
    expect(read(dir, 'packages/one/dist/b.txt')).toBe('a2\n');
    expect((await run('one#build')).summary.nodes.find((n) => n.id === 'one#build')).toMatchObject({ status: 'cached', upToDate: true });
  });
});

describe('the note on undeclared writes', () => {
  it('suggests whole top-level dirs, even when one existed before (a leftover empty dist/x)', async () => {
    const dir = tempDir('kiln-stale-note-');
    writeFiles(dir, {
      'package.json': pkg({ name: 'root', private: true, workspaces: ['packages/*'] }),
      'packages/lib/package.json': pkg({ name: 'lib', scripts: { build: 'for f in a b c d e; do echo $f > dist/$f.js; done && mkdir -p dist/sub && echo s > dist/sub/s.js' } }),
      'packages/lib/dist/x/.keep': '',
    });
    const built = await buildWithSummary(dir, ['--npm', 'build', '--cache-dir', path.join(tempDir(), 'cache'), '--logs', 'none']);
    expect(built.exitCode, built.stderr).toBe(0);
    expect(built.summary.nodes[0]!.notes).toEqual([
      'wrote dist/a.js, dist/b.js, dist/c.js, dist/d.js, dist/e.js and 1 more, which no output declares: cached and restored as undeclared outputs',
      `declare them as outputs: ["dist/**"] with --npm-outputs (or 'kiln init', which writes a kiln.yaml declaring them)`,
    ]);
  });
});

describe('files a script writes outside its declared outputs', () => {
  it('are not cached, but when they are gone the script runs again (motion .next, solid jsx.d.ts)', async () => {
    const dir = tempDir('kiln-stale-extra-');
    const cacheDir = path.join(tempDir('kiln-stale-cache-'), 'cache');
    writeFiles(dir, {
      'package.json': pkg({ name: 'root', private: true, workspaces: ['packages/*'] }),
      'packages/web/package.json': pkg({ name: 'web', scripts: { build: 'mkdir -p dist .next && echo d > dist/d.js && echo n > .next/page.html' } }),
    });
    const build = () => buildWithSummary(dir, ['--npm', 'build', '--npm-outputs', 'dist', '--cache-dir', cacheDir, '--logs', 'none']);
    expect(statuses((await build()).summary).built).toEqual(['web#build']);
    expect(statuses((await build()).summary).built).toEqual([]);
    // dist alone deleted: restored from the cache.
    fs.rmSync(path.join(dir, 'packages/web/dist'), { recursive: true });
    expect(statuses((await build()).summary).cached).toEqual(['web#build']);
    expect(read(dir, 'packages/web/dist/d.js')).toBe('d\n');
    // .next deleted: the cache cannot bring it back, so the script runs.
    fs.rmSync(path.join(dir, 'packages/web/.next'), { recursive: true });
    expect(statuses((await build()).summary).built).toEqual(['web#build']);
    expect(read(dir, 'packages/web/.next/page.html')).toBe('n\n');
    expect(statuses((await build()).summary).built).toEqual([]);
  });
});

describe('a script that rewrites a dependency’s outputs', () => {
  it('is named in a note (headlessui playgrounds run the library build in prebuild)', async () => {
    const dir = tempDir('kiln-stale-prebuild-');
    const cacheDir = path.join(tempDir('kiln-stale-cache-'), 'cache');
    writeFiles(dir, {
      'package.json': pkg({ name: 'root', private: true, workspaces: ['packages/*'] }),
      'packages/react/package.json': pkg({ name: 'react-lib', scripts: { build: 'mkdir -p dist && date +%s%N > dist/index.js' } }),
      'packages/play/package.json': pkg({
        name: 'play',
        dependencies: { 'react-lib': '*' },
        scripts: { prebuild: 'cd ../react && mkdir -p dist && date +%s%N > dist/index.js', build: 'mkdir -p dist && cat ../react/dist/index.js > dist/p.js' },
      }),
    });
    const built = await buildWithSummary(dir, ['--npm', 'build', '--npm-outputs', 'dist', '--cache-dir', cacheDir, '--logs', 'none']);
    expect(built.exitCode, built.stderr).toBe(0);
    expect(built.summary.nodes.find((n) => n.id === 'play#build')!.notes).toEqual([
      'rewrote the outputs of react-lib#build, which it depends on (a pre-script building another package?): the next build restores them; let kiln build them instead',
    ]);
  });
});
