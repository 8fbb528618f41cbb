// Workspace discovery for npm, pnpm and yarn (readWorkspace): which manager
// owns a workspace, where its packages are listed, how `workspace:`
// specifiers link, and what goes into the load trace. Real files in temp dirs.
import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '../engine/diagnostic.js';
import type { LoadTrace } from '../engine/buildfile/load-trace.js';
import { readWorkspace } from '../engine/buildfile/npm/packages.js';
import { tempDir, writeFiles } from './kiln.js';

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

function read(files: Record<string, string>) {
  const dir = tempDir('kiln-pm-');
  writeFiles(dir, files);
  const diagnostics: Diagnostic[] = [];
  const trace: LoadTrace = { texts: new Map(), globs: [], absent: [], dirs: [] };
  const workspace = readWorkspace(dir, diagnostics, trace);
  return { workspace, diagnostics, trace };
}

const lib = { 'packages/lib/package.json': json({ name: 'lib', version: '1.0.0' }) };

describe('package manager detection', () => {
  it('reads packageManager first, then the lockfile present, then pnpm-workspace.yaml, else npm', () => {
    const yarnDeclared = read({ 'package.json': json({ packageManager: 'yarn@4.1.0', workspaces: ['packages/*'] }), 'pnpm-lock.yaml': "lockfileVersion: '9.0'\n", ...lib });
    expect(yarnDeclared.workspace?.packageManager).toBe('yarn');
    expect(yarnDeclared.workspace?.lockfile, 'a lockfile of another manager is not its lockfile').toBeUndefined();
    expect(yarnDeclared.trace.absent).toEqual(['yarn.lock']);

    const byLock = read({ 'package.json': json({ workspaces: ['packages/*'] }), 'yarn.lock': '# yarn lockfile v1\n', 'package-lock.json': '{}', ...lib });
    expect(byLock.workspace?.packageManager, 'yarn.lock is looked for before package-lock.json').toBe('yarn');
    expect(byLock.workspace?.lockfile).toEqual({ file: 'yarn.lock', text: '# yarn lockfile v1\n' });
    expect(byLock.trace.texts.get('yarn.lock'), 'the lockfile is in the trace').toBe('# yarn lockfile v1\n');
    expect(byLock.trace.absent).toEqual(['pnpm-lock.yaml']);

    const shrinkwrap = read({ 'package.json': json({ workspaces: ['packages/*'] }), 'npm-shrinkwrap.json': '{}', 'package-lock.json': '{}', ...lib });
    expect(shrinkwrap.workspace?.lockfile?.file, 'npm prefers npm-shrinkwrap.json').toBe('npm-shrinkwrap.json');

    const pnpmYaml = read({ 'package.json': json({ name: 'root' }), 'pnpm-workspace.yaml': 'packages: [packages/*]\n', ...lib });
    expect(pnpmYaml.workspace?.packageManager).toBe('pnpm');
    expect(pnpmYaml.trace.absent, 'every lockfile looked for').toEqual(['pnpm-lock.yaml', 'yarn.lock', 'npm-shrinkwrap.json', 'package-lock.json']);
    expect(pnpmYaml.trace.texts.has('pnpm-workspace.yaml')).toBe(true);

    const npm = read({ 'package.json': json({ workspaces: ['packages/*'] }), ...lib });
    expect(npm.workspace?.packageManager).toBe('npm');
    expect(npm.trace.absent).toContain('pnpm-workspace.yaml');
    expect(npm.workspace?.packages.map((p) => p.name)).toEqual(['lib']);
  });

  it('locates an unknown packageManager', () => {
    const { workspace, diagnostics } = read({ 'package.json': '{\n  "workspaces": ["packages/*"],\n  "packageManager": "bun@1.1.0"\n}\n', ...lib });
    expect(workspace).toBeUndefined();
    expect(diagnostics).toEqual([
      expect.objectContaining({ pos: { file: 'package.json', line: 3, column: 3 }, message: 'unsupported "packageManager" "bun@1.1.0"' }),
    ]);
  });
});

describe('pnpm-workspace.yaml', () => {
  it('lists the packages, with ! excludes; package.json workspaces are ignored', () => {
    const { workspace, diagnostics } = read({
      'package.json': json({ name: 'root', packageManager: 'pnpm@10.0.0', workspaces: ['ignored/*'] }),
      'pnpm-workspace.yaml': 'packages:\n  - packages/*\n  - tools/**\n  - "!tools/fixtures/**"\n',
      ...lib,
      'ignored/x/package.json': json({ name: 'x' }),
      'tools/deep/cli/package.json': json({ name: 'cli' }),
      'tools/fixtures/f/package.json': json({ name: 'fixture' }),
    });
    expect(diagnostics).toEqual([]);
    expect(workspace?.packages.map((p) => p.dir)).toEqual(['packages/lib', 'tools/deep/cli']);
  });

  it('locates YAML errors and a packages that is not a list of globs', () => {
    const broken = read({ 'package.json': json({ packageManager: 'pnpm@9.1.0' }), 'pnpm-workspace.yaml': 'packages:\n  - a/*\n  b: [\n' });
    expect(broken.workspace).toBeUndefined();
    expect(broken.diagnostics[0]).toMatchObject({ pos: { file: 'pnpm-workspace.yaml', line: 3 }, message: expect.stringMatching(/^invalid YAML: /) });

    const notList = read({ 'package.json': json({ packageManager: 'pnpm@9.1.0' }), 'pnpm-workspace.yaml': '# workspace\npackages: packages/*\n' });
    expect(notList.diagnostics).toEqual([
      expect.objectContaining({ pos: { file: 'pnpm-workspace.yaml', line: 2, column: 11 }, message: "expected 'packages' to be a list of globs" }),
    ]);

    const outside = read({ 'package.json': json({ packageManager: 'pnpm@9.1.0' }), 'pnpm-workspace.yaml': 'packages:\n  - packages/*\n  - ../other/*\n', ...lib });
    expect(outside.diagnostics).toEqual([
      expect.objectContaining({ pos: { file: 'pnpm-workspace.yaml', line: 3, column: 5 }, message: "workspace '../other/*' is outside the workspace root" }),
    ]);

    const missing = read({ 'package.json': json({ packageManager: 'pnpm@9.1.0' }) });
    expect(missing.diagnostics).toEqual([expect.objectContaining({ message: 'cannot read pnpm-workspace.yaml: not found' })]);
  });
});

describe('workspace: specifiers', () => {
  it('link by name, pnpm alias or path (pnpm: from the package; yarn: from the root); other specifiers link by name', () => {
    const packages = (manager: string) => ({
      'package.json': json({ packageManager: manager, workspaces: ['packages/*'] }),
      'pnpm-workspace.yaml': 'packages: [packages/*]\n',
      ...lib,
      'packages/ui/package.json': json({ name: '@acme/ui' }),
      'packages/app/package.json': json({
        name: 'app',
        dependencies: { lib: 'workspace:^', ui: 'workspace:@acme/ui@*', ms: '^2.1.0' },
        devDependencies: { '@acme/ui': '^1.0.0' },
        peerDependencies: { other: manager.startsWith('pnpm') ? 'workspace:../lib' : 'workspace:packages/lib' },
      }),
    });
    for (const manager of ['pnpm@10.34.9', 'yarn@4.18.1']) {
      const { workspace, diagnostics } = read(packages(manager));
      expect(diagnostics, manager).toEqual([]);
      const app = workspace?.packages.find((p) => p.name === 'app');
      expect(app?.deps, manager).toEqual([
        { name: 'lib', field: 'dependencies', spec: 'workspace:^', workspace: 'lib' },
        { name: 'ui', field: 'dependencies', spec: 'workspace:@acme/ui@*', workspace: '@acme/ui' },
        { name: 'ms', field: 'dependencies', spec: '^2.1.0' },
        { name: '@acme/ui', field: 'devDependencies', spec: '^1.0.0', workspace: '@acme/ui' },
        { name: 'other', field: 'peerDependencies', spec: expect.stringMatching(/^workspace:/), workspace: 'lib' },
      ]);
    }
  });

  it('locates a workspace: specifier that names no workspace package', () => {
    const { diagnostics } = read({
      'package.json': json({ packageManager: 'pnpm@10.34.9' }),
      'pnpm-workspace.yaml': 'packages: [packages/*]\n',
      ...lib,
      'packages/app/package.json': '{\n  "name": "app",\n  "dependencies": {\n    "lib": "workspace:*",\n    "gone": "workspace:^"\n  }\n}\n',
    });
    expect(diagnostics).toEqual([
      expect.objectContaining({ pos: { file: 'packages/app/package.json', line: 5, column: 5 }, message: `'gone': "workspace:^" names no workspace package`, hint: 'workspace packages: app, lib' }),
    ]);
  });
});
