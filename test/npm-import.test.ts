// The npm workspaces importer, end to end: real package.json workspaces in
// temp dirs, built by the real kiln CLI, without and with a kiln.yaml.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gitignoreExcludes, gitignoreReader } from '../engine/buildfile/npm/gitignore.js';
import { buildWithSummary, kiln, statuses, tempDir, writeFiles } from './kiln.js';

const pkg = (json: Record<string, unknown>) => `${JSON.stringify(json, null, 2)}\n`;

/**
 * app -> mid -> lib, where mid has no build script (passed through), and
 * tool, a package nobody depends on. lib's build uses a binary from the
 * root node_modules/.bin and records the env npm would give it.
 */
function workspace(): { dir: string; cacheDir: string } {
  const dir = tempDir('kiln-npm-');
  writeFiles(dir, {
    'package.json': pkg({ name: 'root', private: true, workspaces: ['packages/*', 'tools/*'] }),
    '.gitignore': 'node_modules\n*.log\n',
    'node_modules/.bin/stamp': '#!/bin/sh\necho "stamp $*"\n',
    'packages/lib/package.json': pkg({
      name: '@demo/lib',
      version: '1.2.3',
      scripts: {
        prebuild: 'echo pre >> ../../order.txt',
        build: 'mkdir -p dist && stamp "$npm_package_name@$npm_package_version $npm_lifecycle_event" > dist/env.txt && cat src/* >> dist/env.txt',
        postbuild: 'echo post >> ../../order.txt',
        test: 'test -f dist/env.txt',
      },
    }),
    'packages/lib/src/index.js': 'export const lib = 1;\n',
    'packages/lib/debug.log': 'ignored by the root .gitignore\n',
    'packages/mid/package.json': pkg({ name: 'mid', dependencies: { '@demo/lib': '*' } }),
    'packages/app/package.json': pkg({
      name: 'app',
      devDependencies: { mid: '*', leftpad: '^1' },
      scripts: { build: 'mkdir -p dist && cat src/* ../lib/dist/env.txt > dist/app.txt' },
    }),
    'packages/app/src/main.js': 'import "mid";\n',
    'tools/tool/package.json': pkg({ name: 'tool', scripts: { build: 'mkdir -p dist && echo tool > dist/t.txt' } }),
  });
  fs.chmodSync(path.join(dir, 'node_modules/.bin/stamp'), 0o755);
  return { dir, cacheDir: path.join(tempDir('kiln-npm-cache-'), 'cache') };
}

const NPM = ['--npm', 'build', '--npm-outputs', 'dist', '--logs', 'none'];

describe('kiln build --npm (no kiln.yaml)', () => {
  it('builds every package script in dependency order, with npm’s environment, and rebuilds exactly what changed', async () => {
    const { dir, cacheDir } = workspace();
    const build = () => buildWithSummary(dir, [...NPM, '--cache-dir', cacheDir]);

    const cold = await build();
    expect(cold.exitCode, cold.stderr).toBe(0);
    expect(statuses(cold.summary).built).toEqual(['@demo/lib#build', 'app#build', 'tool#build']);
    expect(cold.summary.nodes.every((n) => n.rule === 'npm-script')).toBe(true);
    // pre and post scripts run around the script; the PATH has node_modules/.bin; npm_* vars are set.
    expect(fs.readFileSync(path.join(dir, 'order.txt'), 'utf8')).toBe('pre\npost\n');
    expect(fs.readFileSync(path.join(dir, 'packages/lib/dist/env.txt'), 'utf8')).toBe('stamp @demo/lib@1.2.3 build\nexport const lib = 1;\n');
    // app depends on lib through mid, which has no build script.
    expect(fs.readFileSync(path.join(dir, 'packages/app/dist/app.txt'), 'utf8')).toContain('stamp @demo/lib@1.2.3 build');

    const memo = path.join(dir, '.kiln/workspace.json');
    const noop = await build();
    expect(statuses(noop.summary).built).toEqual([]);
    // The cold build may have loaded package.json files too fresh to stamp (RACY_MARGIN_MS); the no-op then
    // stamps the memo once. From then on a no-op leaves it alone.
    const memoStamp = fs.statSync(memo).mtimeMs;
    expect(statuses((await build()).summary).built).toEqual([]);
    expect(fs.statSync(memo).mtimeMs, 'a no-op build reuses the validated workspace').toBe(memoStamp);

    // A git-ignored file is not an input; a source is, and its dependents follow.
    fs.appendFileSync(path.join(dir, 'packages/lib/debug.log'), 'more\n');
    expect(statuses((await build()).summary).built).toEqual([]);
    fs.appendFileSync(path.join(dir, 'packages/lib/src/index.js'), '// edit\n');
    expect(statuses((await build()).summary).built).toEqual(['@demo/lib#build', 'app#build']);

    // Editing a script changes the key; a new package is seen (the memo tracks the workspaces globs).
    const toolJson = path.join(dir, 'tools/tool/package.json');
    fs.writeFileSync(toolJson, fs.readFileSync(toolJson, 'utf8').replace('echo tool', 'echo tool2'));
    writeFiles(dir, { 'tools/new/package.json': pkg({ name: 'new', scripts: { build: 'mkdir -p dist && echo new > dist/n.txt' } }) });
    const changed = await build();
    expect(statuses(changed.summary).built).toEqual(['new#build', 'tool#build']);

    // A .gitignore added to a package reloads the workspace: what it ignores stops being an input.
    writeFiles(dir, { 'tools/tool/.gitignore': 'scratch/\n', 'tools/tool/scratch/a.txt': 'x' });
    expect(statuses((await build()).summary).built).toEqual(['tool#build']); // the new .gitignore is itself an input
    writeFiles(dir, { 'tools/tool/scratch/a.txt': 'y' });
    expect(statuses((await build()).summary).built).toEqual([]);
  });

  it('says what is wrong with the flags or the workspace, with exit code 2', async () => {
    const { dir } = workspace();
    const unknown = await kiln(dir, ['build', '--npm', 'lint']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain("no workspace package has a 'lint' script");
    const badOutput = await kiln(dir, ['build', '--npm', 'build', '--npm-outputs', '../x']);
    expect(badOutput.exitCode).toBe(2);
    expect(badOutput.stderr).toContain("--npm-outputs: output '../x' is outside the package dir");
    fs.writeFileSync(path.join(dir, 'packages/app/package.json'), '{\n  "name": "app",\n  "scripts": {"build": 1}\n}\n');
    const badJson = await kiln(dir, ['build', '--npm', 'build']);
    expect(badJson.exitCode).toBe(2);
    expect(badJson.stderr).toContain("kiln: packages/app/package.json:3:15: script 'build' must be a string command");
    const outside = await kiln(tempDir(), ['build', '--npm', 'build']);
    expect(outside.exitCode).toBe(2);
    expect(outside.stderr).toContain('--npm: no package.json with "workspaces"');
  });
});

describe('import: npm-workspaces in kiln.yaml', () => {
  it('imports scripts with per-script deps and outputs, next to hand-written nodes that depend on them', async () => {
    const { dir, cacheDir } = workspace();
    writeFiles(dir, {
      'kiln.yaml': [
        'import:',
        '  npm-workspaces:',
        '    outputs: ["dist/**"]',
        '    scripts:',
        '      build:',
        '      test: {dependsOn: [build], outputs: []}',
        'nodes:',
        '  release:',
        '    rule: run',
        '    deps: ["@demo/lib#test", app#build]',
        '    cmd: cat packages/app/dist/app.txt',
        '',
      ].join('\n'),
    });
    const build = () => buildWithSummary(dir, ['--logs', 'none', '--cache-dir', cacheDir]);
    const cold = await build();
    expect(cold.exitCode, cold.stderr).toBe(0);
    expect(statuses(cold.summary).built).toEqual(['@demo/lib#build', '@demo/lib#test', 'app#build', 'release', 'tool#build']);

    // Outputs come back from the cache after deleting them.
    for (const p of ['packages/lib/dist', 'packages/app/dist', 'tools/tool/dist']) fs.rmSync(path.join(dir, p), { recursive: true });
    const restored = await build();
    expect(statuses(restored.summary).built).toEqual([]);
    expect(fs.readFileSync(path.join(dir, 'packages/app/dist/app.txt'), 'utf8')).toContain('stamp @demo/lib@1.2.3 build');
  });

  it('reports mistakes in the import block at file:line:col', async () => {
    const { dir } = workspace();
    writeFiles(dir, {
      'kiln.yaml': ['import:', '  npm-workspaces:', '    outputs: [../out]', '    scripts:', '      test: {dependsOn: [build]}', ''].join('\n'),
    });
    const bad = await kiln(dir, ['build']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("kiln.yaml:3:15: npm-workspaces.outputs[0]: output '../out' is outside the package dir");
    writeFiles(dir, { 'kiln.yaml': ['import:', '  npm-workspaces:', '    scripts:', '      test: {dependsOn: [build]}', ''].join('\n') });
    const missing = await kiln(dir, ['build']);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain("kiln.yaml:4:26: script 'test' depends on 'build', which is not imported");
  });
});

describe('.gitignore patterns as a package’s input excludes', () => {
  const excludes = (files: Record<string, string>, packageDir: string) => {
    const dir = tempDir('kiln-gitignore-');
    writeFiles(dir, files);
    const trace = { texts: new Map<string, string>(), globs: [], absent: [] as string[], dirs: [] };
    return { globs: gitignoreExcludes(packageDir, gitignoreReader(dir, trace)), trace };
  };

  it('anchors patterns at their file’s dir and follows them down to the package', () => {
    const { globs, trace } = excludes(
      { '.gitignore': '# comment\n*.log\n/packages/a/tmp\npackages/*/cache/\n/other\nbuild/\n\\#hash\n' },
      'packages/a',
    );
    expect(globs).toEqual(['**/*.log', '**/*.log/**', 'tmp', 'tmp/**', 'cache/**', '**/build/**', '**/#hash', '**/#hash/**']);
    expect(trace.absent).toEqual(['packages/.gitignore', 'packages/a/.gitignore']);
  });

  it('ignores the whole package when a pattern names it or a parent, and drops what a negation may re-include', () => {
    expect(excludes({ '.gitignore': 'packages/a\n' }, 'packages/a').globs).toEqual(['**']);
    expect(excludes({ '.gitignore': 'vendor\n' }, 'vendor/x').globs).toEqual(['**']);
    expect(excludes({ '.gitignore': 'dist\n', 'p/.gitignore': '*.tmp\n!keep.tmp\nout/\n' }, 'p').globs).toEqual(['**/out/**']);
  });
});
