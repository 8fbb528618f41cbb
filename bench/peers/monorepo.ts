// The npm-workspaces monorepo that kiln, Turborepo and Nx all build: the
// generated kiln bench workspace (bench/generate.ts: same layered DAG, same
// sources, same per-node command) with a package.json per node instead of a
// kiln.yaml, plus turbo.json and nx.json. Each tool gets its own identical
// copy, so one tool's writes (outputs, logs) never look like changes to
// another.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BUILD_FILE, command, generateWorkspace, nodeDir, OUTPUT_DIR, type GeneratedWorkspace } from '../generate.js';
import type { PeerTools } from './tools.js';

export interface MonorepoOptions {
  packages: number;
  files: number;
  layers: number;
  seed: number;
}

/** Generates the monorepo in `dir` and runs `npm install` in it (offline: only workspace links, for the lockfile and node_modules). */
export function generateMonorepo(dir: string, opts: MonorepoOptions, tools: PeerTools): GeneratedWorkspace {
  const ws = generateWorkspace(dir, { nodes: opts.packages, files: opts.files, layers: opts.layers, seed: opts.seed });
  fs.rmSync(path.join(dir, BUILD_FILE));
  for (const node of ws.nodes) {
    const json = {
      name: node.id,
      version: '1.0.0',
      private: true,
      scripts: { build: command(node) },
      dependencies: Object.fromEntries(node.deps.map((d) => [d, '1.0.0'])),
    };
    writeJson(path.join(dir, nodeDir(node.id), 'package.json'), json);
  }
  writeJson(path.join(dir, 'package.json'), {
    name: 'bench-monorepo',
    private: true,
    workspaces: ['packages/*'],
    packageManager: `npm@${tools.npmVersion}`,
  });
  fs.writeFileSync(path.join(dir, '.gitignore'), `node_modules\n${OUTPUT_DIR}\n.turbo\n.nx\n.kiln\n`);
  writeJson(path.join(dir, 'turbo.json'), {
    $schema: 'https://turborepo.com/schema.json',
    tasks: { build: { dependsOn: ['^build'], outputs: [`${OUTPUT_DIR}/**`] } },
  });
  writeJson(path.join(dir, 'nx.json'), {
    targetDefaults: { build: { dependsOn: ['^build'], outputs: [`{projectRoot}/${OUTPUT_DIR}`], cache: true } },
    useDaemonProcess: false,
  });
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], { cwd: dir, stdio: 'pipe' });
  tools.linkInto(dir);
  // A git repository with everything committed, as a clone is: tools that read git's index (turbo, kiln in a
  // fresh checkout) get to.
  // No automatic gc or maintenance: a repack running in the background would move objects while the copies are made.
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@localhost', '-c', 'gc.auto=0', '-c', 'maintenance.auto=false', ...args], { cwd: dir, stdio: 'pipe' });
  git('init', '-q');
  git('add', '-A');
  git('commit', '-qm', 'generated monorepo');
  return ws;
}

/**
 * An identical copy of the monorepo (workspace links in node_modules are
 * relative and stay valid) whose git index describes its own files, as a
 * fresh clone's does: refreshed once the copies are older than the racy
 * margin, or no tool could trust it.
 */
export function copyMonorepo(ws: GeneratedWorkspace, to: string): GeneratedWorkspace {
  fs.cpSync(ws.dir, to, { recursive: true, verbatimSymlinks: true });
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
  execFileSync('git', ['update-index', '-q', '--really-refresh'], { cwd: to, stdio: 'pipe' });
  return { ...ws, dir: to };
}

function writeJson(file: string, value: unknown): void {
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}
