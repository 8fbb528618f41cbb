// lockfileDigests on lockfiles written by the real package managers, pinned
// (npm as installed; pnpm 10, yarn 1 and yarn 4 from test/servers/pms/,
// installed by test/servers/install-pms.sh), from the npm registry. Each
// workspace: a -> wrappy ^1.0.0; e -> once ^1.4.0 -> wrappy "1" (and an
// npm: alias); b -> left-pad; d -> a (a workspace link). The manager first
// resolves wrappy to 1.0.1 (an override), then updates it within its range
// to 1.0.2: exactly a and e (through once) get new digests.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Diagnostic } from '../engine/diagnostic.js';
import { lockfileDigests } from '../engine/buildfile/npm/lockfile/digests.js';
import { readWorkspace } from '../engine/buildfile/npm/packages.js';
import { tempDir, writeFiles } from './kiln.js';
import { installManagers, runManager as run } from './pms.js';

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

beforeAll(installManagers, 120_000);

function digestsOf(dir: string): Record<string, string> {
  const diagnostics: Diagnostic[] = [];
  const workspace = readWorkspace(dir, diagnostics, { texts: new Map(), globs: [], absent: [], dirs: [] });
  const digests = workspace ? lockfileDigests(workspace, diagnostics) : new Map<string, string>();
  expect(diagnostics).toEqual([]);
  return Object.fromEntries(digests);
}

interface Manager {
  name: string;
  lockfile: string;
  /** The root package.json fields besides the workspaces; `pin` adds the override to wrappy 1.0.1. */
  root(pin: boolean): Record<string, unknown>;
  files?: Record<string, string>;
  /** The workspace dependency of d on a, as this manager writes it. */
  link: string;
  install: string[];
  update: string[];
}

const MANAGERS: Manager[] = [
  {
    name: 'npm',
    lockfile: 'package-lock.json',
    root: (pin) => ({ workspaces: ['packages/*'], ...(pin ? { overrides: { wrappy: '1.0.1' } } : {}) }),
    link: '*',
    install: ['npm', 'install', '--package-lock-only', '--no-audit', '--no-fund', '--loglevel=error'],
    update: ['npm', 'update', 'wrappy', '--package-lock-only', '--no-audit', '--no-fund', '--loglevel=error'],
  },
  {
    name: 'pnpm 10',
    lockfile: 'pnpm-lock.yaml',
    root: (pin) => ({ packageManager: 'pnpm@10.34.9', ...(pin ? { pnpm: { overrides: { wrappy: '1.0.1' } } } : {}) }),
    files: { 'pnpm-workspace.yaml': 'packages:\n  - packages/*\n' },
    link: 'workspace:*',
    install: ['pnpm', 'install', '--lockfile-only', '--no-frozen-lockfile', '--loglevel=error'],
    update: ['pnpm', 'update', '--recursive', '--lockfile-only', '--no-save', 'wrappy', '--loglevel=error'],
  },
  {
    name: 'yarn 1',
    lockfile: 'yarn.lock',
    root: (pin) => ({ workspaces: ['packages/*'], ...(pin ? { resolutions: { wrappy: '1.0.1' } } : {}) }),
    link: '1.0.0',
    install: ['yarn1', 'install', '--silent', '--non-interactive', '--ignore-scripts'],
    // `yarn upgrade wrappy` leaves a dependency of workspace packages alone; upgrading all does not (the rest is at its newest already).
    update: ['yarn1', 'upgrade', '--silent', '--non-interactive', '--ignore-scripts'],
  },
  {
    name: 'yarn 4',
    lockfile: 'yarn.lock',
    root: (pin) => ({ packageManager: 'yarn@4.18.1', workspaces: ['packages/*'], ...(pin ? { resolutions: { wrappy: '1.0.1' } } : {}) }),
    files: { 'yarn.lock': '' },
    link: 'workspace:^',
    install: ['yarn4', 'install', '--mode=update-lockfile'],
    update: ['yarn4', 'up', '--recursive', 'wrappy', '--mode=update-lockfile'],
  },
];

describe('lockfiles written by the real package managers', () => {
  for (const pm of MANAGERS) {
    it(`${pm.name}: an update of wrappy within its range changes the digests of exactly a and e`, () => {
      const dir = tempDir('kiln-pm-real-');
      const root = (pin: boolean) => json({ name: 'root', private: true, ...pm.root(pin) });
      writeFiles(dir, {
        'package.json': root(true),
        ...pm.files,
        'packages/a/package.json': json({ name: 'a', version: '1.0.0', dependencies: { wrappy: '^1.0.0' } }),
        'packages/b/package.json': json({ name: 'b', version: '1.0.0', dependencies: { 'left-pad': '^1.1.0' } }),
        'packages/d/package.json': json({ name: 'd', version: '1.0.0', dependencies: { a: pm.link } }),
        'packages/e/package.json': json({ name: 'e', version: '1.0.0', dependencies: { once: '^1.4.0', ms2: 'npm:ms@^2.1.1' } }),
      });
      run(dir, pm.install);
      const lock = () => fs.readFileSync(path.join(dir, pm.lockfile), 'utf8');
      expect([lock().includes('1.0.1'), lock().includes('1.0.2')], 'wrappy resolved to 1.0.1 only').toEqual([true, false]);
      const pinned = digestsOf(dir);
      expect(Object.keys(pinned).sort()).toEqual(['packages/a', 'packages/b', 'packages/d', 'packages/e']);

      fs.writeFileSync(path.join(dir, 'package.json'), root(false));
      run(dir, pm.update);
      expect([lock().includes('1.0.1'), lock().includes('1.0.2')], 'wrappy resolved to 1.0.2 only').toEqual([false, true]);
      const updated = digestsOf(dir);
      const changed = Object.keys(updated).filter((dir) => updated[dir] !== pinned[dir]).sort();
      expect(changed, 'b has other deps; d reaches wrappy only through the workspace package a').toEqual(['packages/a', 'packages/e']);
    });
  }
});
