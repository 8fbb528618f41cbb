// lockfileDigests on hand-written lockfiles: each format's edge cases
// (nested node_modules, npm: aliases, peers, workspace links, cycles),
// located errors for broken or inconsistent lockfiles, and the cost at
// 1,000 packages. test/lockfile-managers.test.ts runs the real managers.
import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '../engine/diagnostic.js';
import type { LoadTrace } from '../engine/buildfile/load-trace.js';
import { lockfileDigests } from '../engine/buildfile/npm/lockfile/digests.js';
import { readWorkspace } from '../engine/buildfile/npm/packages.js';
import { tempDir, writeFiles } from './kiln.js';

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/** Reads the workspace `files` make and digests it; diagnostics of both steps. */
function digests(files: Record<string, string>) {
  const dir = tempDir('kiln-lock-');
  writeFiles(dir, files);
  const diagnostics: Diagnostic[] = [];
  const trace: LoadTrace = { texts: new Map(), globs: [], absent: [], dirs: [] };
  const workspace = readWorkspace(dir, diagnostics, trace);
  const warnings: Diagnostic[] = [];
  const map = workspace ? lockfileDigests(workspace, warnings) : new Map<string, string>();
  // A lockfile not read exactly: its problems, then one warning that every package keys on the whole file.
  const fallback = warnings.filter((w) => w.message.endsWith('every package keys on the whole lockfile'));
  if (fallback.length > 0) expect(new Set(Object.values(Object.fromEntries(map))).size, 'one digest for all: the whole lockfile').toBe(1);
  return { digests: Object.fromEntries(map), diagnostics: [...diagnostics, ...warnings.filter((w) => !fallback.includes(w))], fallback };
}

/** Which packages' digests differ between two runs. */
const changed = (a: Record<string, string>, b: Record<string, string>) => Object.keys({ ...a, ...b }).filter((dir) => a[dir] !== b[dir]).sort();

describe('package-lock.json', () => {
  const packages = {
    'packages/lib/package.json': json({ name: 'lib', dependencies: { x: '^1.0.0', alias: 'npm:real@^2.0.0' } }),
    'packages/app/package.json': json({ name: 'app', dependencies: { x: '^2.0.0', lib: '*' }, peerDependencies: { react: '*' } }),
    'packages/other/package.json': json({ name: 'other', devDependencies: { c1: '^1.0.0' } }),
  };
  const lock = (): Record<string, Record<string, unknown>> => ({
    '': { name: 'root', workspaces: ['packages/*'] },
    'node_modules/lib': { resolved: 'packages/lib', link: true },
    'node_modules/app': { resolved: 'packages/app', link: true },
    'node_modules/other': { resolved: 'packages/other', link: true },
    'node_modules/x': { version: '1.0.0', integrity: 'sha512-x1', dependencies: { y: '^1.0.0' } },
    'node_modules/y': { version: '1.0.0', integrity: 'sha512-y1' },
    'node_modules/alias': { name: 'real', version: '2.0.0', integrity: 'sha512-real2' },
    'node_modules/c1': { version: '1.0.0', integrity: 'sha512-c1', dependencies: { c2: '1' } },
    'node_modules/c2': { version: '1.0.0', integrity: 'sha512-c2', dependencies: { c1: '1' }, optionalDependencies: { absent: '1' } },
    'packages/app/node_modules/x': { version: '2.0.0', integrity: 'sha512-x2', dependencies: { y: '^1.0.0' } },
    'packages/app/node_modules/x/node_modules/y': { version: '1.1.0', integrity: 'sha512-y11' },
  });
  const run = (packagesEntries: Record<string, unknown>) =>
    digests({ 'package.json': json({ name: 'root', workspaces: ['packages/*'] }), ...packages, 'package-lock.json': json({ name: 'root', lockfileVersion: 3, packages: packagesEntries }) });

  it('resolves from the nearest node_modules up, follows aliases and cycles, and not workspace links', () => {
    const base = run(lock());
    expect(base.diagnostics).toEqual([]);
    expect(Object.keys(base.digests)).toEqual(['packages/app', 'packages/lib', 'packages/other']);

    const hoistedY = lock();
    hoistedY['node_modules/y']!.integrity = 'sha512-y1-republished';
    expect(changed(base.digests, run(hoistedY).digests), "app's x loads its own nested y").toEqual(['packages/lib']);

    const nestedY = lock();
    nestedY['packages/app/node_modules/x/node_modules/y']!.version = '1.1.1';
    expect(changed(base.digests, run(nestedY).digests)).toEqual(['packages/app']);

    const aliased = lock();
    aliased['node_modules/alias']!.version = '2.0.1';
    expect(changed(base.digests, run(aliased).digests)).toEqual(['packages/lib']);

    const cycle = lock();
    cycle['node_modules/c2']!.integrity = 'sha512-c2-other';
    expect(changed(base.digests, run(cycle).digests), 'through the c1 <-> c2 cycle').toEqual(['packages/other']);
  });

  it('ignores where a package is installed when the versions stay the same (re-hoisting)', () => {
    const base = run(lock());
    const moved = lock();
    moved['packages/lib/node_modules/x'] = moved['node_modules/x']!;
    moved['packages/lib/node_modules/y'] = moved['node_modules/y']!;
    delete moved['node_modules/x'];
    delete moved['node_modules/y'];
    expect(changed(base.digests, run(moved).digests)).toEqual([]);
  });

  it('does not miss bundled dependencies, which npm locks no entry of their own for (headlessui)', () => {
    const entries = lock();
    const x = entries['node_modules/x'] as Record<string, unknown>;
    entries['node_modules/x'] = { ...x, dependencies: { ...(x.dependencies as object), inside: '^1.0.0' }, bundleDependencies: ['inside'] };
    const { diagnostics, fallback } = run(entries);
    expect(diagnostics).toEqual([]);
    expect(fallback).toEqual([]);
  });

  it('locates entries the lockfile lacks, and a lockfile it cannot read', () => {
    const noY = lock();
    delete noY['node_modules/y'];
    delete noY['node_modules/c1'];
    const { digests: partial, diagnostics } = run(noY);
    expect(diagnostics).toEqual([
      expect.objectContaining({ pos: { file: 'package-lock.json', line: 27, column: 9 }, message: "'node_modules/x' depends on 'y', which is not installed where it could load it from" }),
      expect.objectContaining({ pos: { file: 'packages/other/package.json', line: 4, column: 5 }, message: "'c1' is not in package-lock.json", hint: 'the lockfile is out of date: run npm install' }),
    ]);
    expect(Object.keys(partial), 'every package keys on the whole lockfile, with a warning: the load goes on').toHaveLength(3);

    const files = { 'package.json': json({ workspaces: ['packages/*'] }), ...packages };
    expect(digests({ ...files, 'package-lock.json': '{\n  "lockfileVersion": 3,\n  "packages": {,}\n}\n' }).diagnostics).toEqual([
      expect.objectContaining({ pos: { file: 'package-lock.json', line: 3, column: 16 }, message: expect.stringMatching(/^invalid JSON/) }),
    ]);
    expect(digests({ ...files, 'package-lock.json': json({ lockfileVersion: 1, dependencies: {} }) }).diagnostics).toEqual([
      expect.objectContaining({ pos: { file: 'package-lock.json', line: 2, column: 3 }, message: 'unsupported package-lock.json: lockfileVersion 1' }),
    ]);
    expect(digests(files).digests, 'no lockfile, no digests').toEqual({});
  });
});

describe('pnpm-lock.yaml', () => {
  const files = {
    'package.json': json({ name: 'root' }),
    'pnpm-workspace.yaml': 'packages: [packages/*]\n',
    'packages/lib/package.json': json({ name: 'lib', dependencies: { plugin: '^1.0.0', alias: 'npm:real@^2.0.0' } }),
    'packages/app/package.json': json({ name: 'app', dependencies: { lib: 'workspace:*', host: '^3.0.0' }, peerDependencies: { host: '^3.0.0' } }),
    'packages/solo/package.json': json({ name: 'solo', devDependencies: { left: '^1.0.0' } }),
  };
  const v9 = (host = '3.0.0') => `lockfileVersion: '9.0'

importers:
  .: {}
  packages/app:
    dependencies:
      host: {specifier: ^3.0.0, version: ${host}}
      lib: {specifier: workspace:*, version: link:../lib}
  packages/lib:
    dependencies:
      alias: {specifier: npm:real@^2.0.0, version: real@2.0.0}
      plugin: {specifier: ^1.0.0, version: 1.0.0(host@${host})}
  packages/solo:
    devDependencies:
      left: {specifier: ^1.0.0, version: 1.3.0}

packages:
  host@${host}: {resolution: {integrity: sha512-host-${host}}}
  left@1.3.0: {resolution: {integrity: sha512-left}}
  plugin@1.0.0: {resolution: {integrity: sha512-plugin}, peerDependencies: {host: ^3.0.0}}
  real@2.0.0: {resolution: {integrity: sha512-real}}

snapshots:
  host@${host}: {}
  left@1.3.0: {}
  plugin@1.0.0(host@${host}):
    dependencies:
      host: ${host}
  real@2.0.0: {}
`;
  const v6 = (host = '3.0.0') => `lockfileVersion: '6.0'

importers:
  .: {}
  packages/app:
    dependencies:
      host: {specifier: ^3.0.0, version: ${host}}
      lib: {specifier: workspace:*, version: link:../lib}
  packages/lib:
    dependencies:
      alias: {specifier: npm:real@^2.0.0, version: /real@2.0.0}
      plugin: {specifier: ^1.0.0, version: 1.0.0(host@${host})}
  packages/solo:
    devDependencies:
      left: {specifier: ^1.0.0, version: 1.3.0}

packages:
  /host@${host}: {resolution: {integrity: sha512-host-${host}}, dev: false}
  /left@1.3.0: {resolution: {integrity: sha512-left}, dev: true}
  /plugin@1.0.0(host@${host}):
    resolution: {integrity: sha512-plugin}
    peerDependencies: {host: ^3.0.0}
    dependencies:
      host: ${host}
    dev: false
  /real@2.0.0: {resolution: {integrity: sha512-real}, dev: false}
`;

  it('v9 and v6: a peer resolved differently changes the packages that reach it, through aliases, not through workspace links', () => {
    for (const lock of [v9, v6]) {
      const base = digests({ ...files, 'pnpm-lock.yaml': lock() });
      expect(base.diagnostics).toEqual([]);
      expect(Object.keys(base.digests)).toEqual(['packages/app', 'packages/lib', 'packages/solo']);
      const bumped = digests({ ...files, 'pnpm-lock.yaml': lock('3.0.1') });
      expect(changed(base.digests, bumped.digests), lock().slice(0, 24)).toEqual(['packages/app', 'packages/lib']);
      const aliased = digests({ ...files, 'pnpm-lock.yaml': lock().replaceAll('sha512-real', 'sha512-real-other') });
      expect(changed(base.digests, aliased.digests)).toEqual(['packages/lib']);
    }
  });

  it('locates missing importers, snapshots and dependencies, YAML errors and unknown versions', () => {
    const broken = v9().replace('  real@2.0.0: {}\n', '').replace('  packages/solo:\n    devDependencies:\n      left: {specifier: ^1.0.0, version: 1.3.0}\n', '').replace('host: 3.0.0\n', 'host: 3.0.0\n      gone: 1.0.0\n');
    const { diagnostics } = digests({ ...files, 'packages/app/package.json': json({ name: 'app', dependencies: { lib: 'workspace:*', host: '^3.0.0', ms: '^2.0.0' } }), 'pnpm-lock.yaml': broken });
    expect(diagnostics).toEqual([
      expect.objectContaining({ pos: { file: 'packages/app/package.json', line: 6, column: 5 }, message: "'ms' is not in pnpm-lock.yaml" }),
      expect.objectContaining({ pos: { file: 'pnpm-lock.yaml', line: 11, column: 14 }, message: "'alias' real@2.0.0 has no entry in pnpm-lock.yaml" }),
      expect.objectContaining({ pos: { file: 'pnpm-lock.yaml', line: 26, column: 13 }, message: "'gone' 1.0.0 has no entry in pnpm-lock.yaml" }),
      expect.objectContaining({ pos: { file: 'pnpm-lock.yaml', line: 4, column: 3 }, message: "pnpm-lock.yaml has no importer 'packages/solo'" }),
    ]);
    expect(digests({ ...files, 'pnpm-lock.yaml': "lockfileVersion: '9.0'\nimporters:\n  .: {\n" }).diagnostics[0]).toMatchObject({
      pos: { file: 'pnpm-lock.yaml', line: 4 },
      message: expect.stringMatching(/^invalid YAML: /),
    });
    expect(digests({ ...files, 'pnpm-lock.yaml': 'lockfileVersion: 5.4\n' }).diagnostics).toEqual([
      expect.objectContaining({ pos: { file: 'pnpm-lock.yaml', line: 1, column: 18 }, message: 'unsupported pnpm-lock.yaml: lockfileVersion "5.4"' }),
    ]);
  });
});

describe('yarn.lock', () => {
  const files = {
    'package.json': json({ name: 'root', workspaces: ['packages/*'], resolutions: { pinned: '1.0.1' } }),
    'packages/lib/package.json': json({ name: 'lib', dependencies: { once: '^1.4.0', alias: 'npm:ms@^2.1.1' } }),
    'packages/app/package.json': json({ name: 'app', dependencies: { lib: '1.0.0', wrappy: '^1.0.0' }, peerDependencies: { react: '*' } }),
    'packages/solo/package.json': json({ name: 'solo', devDependencies: { '@scope/pad': '^1.1.0', pinned: '^1.0.0' } }),
  };
  const classic = (wrappy = '1.0.2') => `# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.
# yarn lockfile v1


"@scope/pad@^1.1.0":
  version "1.3.0"
  resolved "https://registry.yarnpkg.com/@scope/pad/-/pad-1.3.0.tgz#5b8a"
  integrity sha512-pad

"alias@npm:ms@^2.1.1":
  version "2.1.3"
  integrity sha512-ms

once@^1.4.0:
  version "1.4.0"
  integrity sha512-once
  dependencies:
    wrappy "1"

pinned@^1.0.0:
  version "1.0.1"
  integrity sha512-pinned

wrappy@1, wrappy@^1.0.0:
  version "${wrappy}"
  integrity sha512-wrappy-${wrappy}
`;

  it('classic: entries by name@range, aliases, links to workspace packages by name', () => {
    const base = digests({ ...files, 'yarn.lock': classic() });
    expect(base.diagnostics).toEqual([]);
    expect(Object.keys(base.digests)).toEqual(['packages/app', 'packages/lib', 'packages/solo']);
    const bumped = digests({ ...files, 'yarn.lock': classic('1.0.1') });
    expect(changed(base.digests, bumped.digests), 'app directly, lib through once').toEqual(['packages/app', 'packages/lib']);
  });

  it('classic: locates lines it cannot parse and entries it lacks', () => {
    expect(digests({ ...files, 'yarn.lock': classic().replace('  version "1.4.0"', '      version "1.4.0"') }).diagnostics).toEqual([
      expect.objectContaining({ pos: { file: 'yarn.lock', line: 15, column: 7 }, message: expect.stringMatching(/^cannot parse yarn.lock: expected "field value" lines/) }),
    ]);
    expect(digests({ ...files, 'yarn.lock': classic().replace('wrappy@1, ', '') }).diagnostics).toEqual([
      expect.objectContaining({ pos: { file: 'yarn.lock', line: 18, column: 5 }, message: "'wrappy@1' has no entry in yarn.lock" }),
    ]);
  });

  const berry = (wrappy = '1.0.2') => `# This file is generated by running "yarn install" inside your project.

__metadata:
  version: 8
  cacheKey: 10c0

"@scope/pad@npm:^1.1.0":
  version: 1.3.0
  resolution: "@scope/pad@npm:1.3.0"
  checksum: 10c0/pad
  languageName: node
  linkType: hard

"alias@npm:ms@^2.1.1":
  version: 2.1.3
  resolution: "ms@npm:2.1.3"
  checksum: 10c0/ms
  languageName: node
  linkType: hard

"app@workspace:packages/app":
  version: 0.0.0-use.local
  resolution: "app@workspace:packages/app"
  dependencies:
    lib: "npm:1.0.0"
    wrappy: "npm:^1.0.0"
  peerDependencies:
    react: "*"
  languageName: unknown
  linkType: soft

"lib@npm:1.0.0, lib@workspace:packages/lib":
  version: 0.0.0-use.local
  resolution: "lib@workspace:packages/lib"
  dependencies:
    alias: "npm:ms@^2.1.1"
    once: "npm:^1.4.0"
  languageName: unknown
  linkType: soft

"once@npm:^1.4.0":
  version: 1.4.0
  resolution: "once@npm:1.4.0"
  dependencies:
    wrappy: "npm:1"
  checksum: 10c0/once
  languageName: node
  linkType: hard

"pinned@npm:1.0.1":
  version: 1.0.1
  resolution: "pinned@npm:1.0.1"
  checksum: 10c0/pinned
  languageName: node
  linkType: hard

"root@workspace:.":
  version: 0.0.0-use.local
  resolution: "root@workspace:."
  languageName: unknown
  linkType: soft

"solo@workspace:packages/solo":
  version: 0.0.0-use.local
  resolution: "solo@workspace:packages/solo"
  dependencies:
    "@scope/pad": "npm:^1.1.0"
    pinned: "npm:^1.0.0"
  languageName: unknown
  linkType: soft

"wrappy@npm:1, wrappy@npm:^1.0.0":
  version: ${wrappy}
  resolution: "wrappy@npm:${wrappy}"
  checksum: 10c0/wrappy-${wrappy}
  languageName: node
  linkType: hard
`;

  it('berry: workspace entries, descriptors, resolutions overrides, links to workspace packages', () => {
    const base = digests({ ...files, 'yarn.lock': berry() });
    expect(base.diagnostics).toEqual([]);
    expect(Object.keys(base.digests)).toEqual(['packages/app', 'packages/lib', 'packages/solo']);
    const bumped = digests({ ...files, 'yarn.lock': berry('1.0.1') });
    expect(changed(base.digests, bumped.digests)).toEqual(['packages/app', 'packages/lib']);
    const pinned = digests({ ...files, 'yarn.lock': berry().replace('10c0/pinned', '10c0/pinned-other') });
    expect(changed(base.digests, pinned.digests), 'pinned@npm:^1.0.0 is locked as the resolutions override pinned@npm:1.0.1').toEqual(['packages/solo']);
  });

  it('berry as yarn 2 and 3 write it: dependency ranges without the npm: protocol (motion)', () => {
    const yarn3 = (wrappy?: string) => berry(wrappy).replace(/: "npm:([^"]+)"/g, ': "$1"');
    expect(yarn3()).toContain('wrappy: "^1.0.0"');
    const base = digests({ ...files, 'yarn.lock': yarn3() });
    expect(base.diagnostics).toEqual([]);
    expect(base.fallback).toEqual([]);
    expect(changed(base.digests, digests({ ...files, 'yarn.lock': yarn3('1.0.1') }).digests)).toEqual(['packages/app', 'packages/lib']);
  });

  it('berry: locates entries it lacks and workspaces it does not know', () => {
    const lacking = berry().replace('"once@npm:^1.4.0":', '"once@npm:^1.3.0":').replace(/"solo@workspace:packages\/solo":\n(  .*\n|    .*\n)+/, '');
    expect(digests({ ...files, 'yarn.lock': lacking }).diagnostics).toEqual([
      expect.objectContaining({ pos: { file: 'yarn.lock', line: 37, column: 11 }, message: "'once@npm:^1.4.0' has no entry in yarn.lock" }),
      expect.objectContaining({ pos: { file: 'yarn.lock', line: 1, column: 1 }, message: "yarn.lock has no entry for workspace 'packages/solo'" }),
    ]);
  });
});

describe('cost', () => {
  it('digests 1,000 packages over a 2,000-package external graph with a 20,000-long chain, without recursion', () => {
    const entries: Record<string, unknown> = { '': { name: 'root', workspaces: ['packages/*'] } };
    const files: Record<string, string> = { 'package.json': json({ name: 'root', workspaces: ['packages/*'] }) };
    const ext = (i: number) => `e${i}`;
    for (let i = 0; i < 2000; i++) {
      const deps = Object.fromEntries([1, 7, 31].map((d) => (i + d) % 2000).filter((j) => j > i).map((j) => [ext(j), '^1.0.0']));
      entries[`node_modules/${ext(i)}`] = { version: '1.0.0', integrity: `sha512-${i}`, dependencies: i === 1999 ? { c0: '1' } : deps };
    }
    for (let i = 0; i < 20000; i++) entries[`node_modules/c${i}`] = { version: '1.0.0', integrity: `sha512-c${i}`, dependencies: i < 19999 ? { [`c${i + 1}`]: '1' } : {} };
    for (let p = 0; p < 1000; p++) {
      const name = `pkg-${String(p).padStart(4, '0')}`;
      const deps = Object.fromEntries([p, p * 3 + 1, p * 7 + 2].map((i) => [ext(i % 2000), '^1.0.0']));
      files[`packages/${name}/package.json`] = json({ name, version: '1.0.0', dependencies: deps });
      entries[`node_modules/${name}`] = { resolved: `packages/${name}`, link: true };
    }
    files['package-lock.json'] = json({ lockfileVersion: 3, packages: entries });
    const dir = tempDir('kiln-lock-cost-');
    writeFiles(dir, files);
    const diagnostics: Diagnostic[] = [];
    const workspace = readWorkspace(dir, diagnostics, { texts: new Map(), globs: [], absent: [], dirs: [] })!;
    const start = performance.now();
    const map = lockfileDigests(workspace, diagnostics);
    const ms = performance.now() - start;
    expect(diagnostics).toEqual([]);
    expect(map.size).toBe(1000);
    expect(new Set(map.values()).size).toBeGreaterThan(900);
    console.log(`lockfileDigests: 1,000 packages, 22,000 external entries: ${ms.toFixed(0)} ms`);
    expect(ms, "a few hundred ms on a quiet machine").toBeLessThan(3000);
  });
});
