// The real package managers the tests run, pinned: npm as installed; pnpm
// 10, yarn 1 and yarn 4 from test/servers/pms/ (installed by
// test/servers/install-pms.sh, which `npm test` runs first).
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SERVERS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'servers');
const PMS = path.join(SERVERS, 'pms');
const BIN = {
  pnpm: path.join(PMS, 'pnpm/node_modules/pnpm/bin/pnpm.cjs'),
  yarn1: path.join(PMS, 'yarn1/node_modules/yarn/bin/yarn.js'),
  yarn4: path.join(PMS, 'yarn4/node_modules/@yarnpkg/cli-dist/bin/yarn.js'),
};
/** Caches shared by the test runs, outside any workspace. */
const CACHE = path.join(os.tmpdir(), 'kiln-test-pm-cache');

/** Idempotent, and what `npm test` runs first: for a beforeAll, so that one test file runs alone too. */
export function installManagers(): void {
  execFileSync('bash', [path.join(SERVERS, 'install-pms.sh')], { stdio: 'inherit' });
}

/** Runs a package manager (`npm`, `pnpm`, `yarn1`, `yarn4` and its arguments) in `dir`, offline from kiln's own config, failing with its output. */
export function runManager(dir: string, command: string[]): void {
  const [tool, ...args] = command;
  const file = tool === 'npm' ? 'npm' : process.execPath;
  const argv = tool === 'npm' ? args : [BIN[tool as keyof typeof BIN], ...args];
  const env = {
    ...process.env,
    CI: '',
    npm_config_cache: path.join(CACHE, 'npm'),
    npm_config_store_dir: path.join(CACHE, 'pnpm-store'),
    YARN_CACHE_FOLDER: path.join(CACHE, tool === 'yarn4' ? 'yarn4' : 'yarn1'),
    YARN_ENABLE_GLOBAL_CACHE: 'false',
    YARN_ENABLE_TELEMETRY: '0',
    YARN_ENABLE_IMMUTABLE_INSTALLS: 'false',
  };
  try {
    execFileSync(file, argv, { cwd: dir, env, stdio: 'pipe', timeout: 120_000 });
  } catch (err) {
    const e = err as { stdout?: Buffer; stderr?: Buffer; message: string };
    throw new Error(`${command.join(' ')} failed: ${e.message}\n${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}`);
  }
}
