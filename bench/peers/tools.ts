// Turborepo and Nx, pinned, installed once from npm into a cache dir outside
// the repository (re-used by later runs), and linked into each generated
// monorepo's node_modules so that both find their local installation.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The peers measured, pinned (STACK.md "Peers"). */
export const PEER_VERSIONS = { turbo: '2.11.11', nx: '24.0.6', '@nx/nx-linux-x64-gnu': '24.0.6' } as const;

/** What a generated monorepo's node_modules gets from the tools dir. */
const LINKED = ['turbo', 'turbo-linux-64', 'nx', '@nx'];

export interface PeerTools {
  dir: string;
  npmVersion: string;
  turboBin: string;
  nxBin: string;
  /** Symlinks the tools into `<monorepo>/node_modules`. */
  linkInto(monorepo: string): void;
}

/** Default: $XDG_CACHE_HOME/kiln-bench-peers (or ~/.cache/...), one dir per pinned version set. */
export function defaultToolsDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  const tag = Object.entries(PEER_VERSIONS).map(([n, v]) => `${n.replace('/', '+')}@${v}`).join('_');
  return path.join(base, 'kiln-bench-peers', tag);
}

/** Installs the pinned tools into `dir` unless a previous run did. */
export function ensurePeerTools(dir: string, log: (message: string) => void): PeerTools {
  if (!fs.existsSync(path.join(dir, 'node_modules/.bin/turbo')) || !fs.existsSync(path.join(dir, 'node_modules/.bin/nx'))) {
    log(`installing turbo ${PEER_VERSIONS.turbo} and nx ${PEER_VERSIONS.nx} into ${dir}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'package.json'),
      `${JSON.stringify({ name: 'kiln-bench-peer-tools', private: true, dependencies: PEER_VERSIONS }, null, 2)}\n`,
    );
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], { cwd: dir, stdio: 'pipe' });
  }
  const npmVersion = execFileSync('npm', ['--version'], { encoding: 'utf8' }).trim();
  return {
    dir,
    npmVersion,
    // The JS entry points (run with this node), not the .bin shims: the same node for every tool.
    turboBin: fs.realpathSync(path.join(dir, 'node_modules/.bin/turbo')),
    nxBin: fs.realpathSync(path.join(dir, 'node_modules/.bin/nx')),
    linkInto: (monorepo) => {
      for (const name of LINKED) {
        const from = path.join(dir, 'node_modules', name);
        if (fs.existsSync(from)) fs.symlinkSync(from, path.join(monorepo, 'node_modules', name));
      }
    },
  };
}
