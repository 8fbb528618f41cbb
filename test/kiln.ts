// Shared helpers for tests that drive the real kiln CLI (bundled into dist/cli/
// by `npm test`) in real temp directories.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { RunSummary } from '../engine/pipeline/summary.js';

export const KILN_MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/cli/main.js');

export function tempDir(prefix = 'kiln-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Writes files (relative path → content) under dir, creating parents. */
export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
}

export interface KilnRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs `kiln ARGS` in cwd with a clean, CI-like environment plus `env`. */
export async function kiln(cwd: string, args: string[], env: Record<string, string> = {}): Promise<KilnRun> {
  const r = await execa('node', [KILN_MAIN, ...args], {
    cwd,
    reject: false,
    extendEnv: false,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', CI: 'true', ...env },
  });
  return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Builds with a summary file and returns the parsed summary alongside the run. */
export async function buildWithSummary(
  cwd: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<KilnRun & { summary: RunSummary }> {
  // Outside the workspace, so no input glob can ever see it.
  const file = path.join(tempDir('kiln-summary-'), 'summary.json');
  const run = await kiln(cwd, ['build', '--summary', file, ...args], env);
  if (!fs.existsSync(file)) throw new Error(`no summary written (exit ${run.exitCode}): ${run.stderr}${run.stdout}`);
  return { ...run, summary: JSON.parse(fs.readFileSync(file, 'utf8')) as RunSummary };
}

/** Node ids by status, e.g. statuses(summary).built. */
export function statuses(summary: RunSummary): Record<'built' | 'cached' | 'failed' | 'skipped', string[]> {
  const out = { built: [] as string[], cached: [] as string[], failed: [] as string[], skipped: [] as string[] };
  for (const n of summary.nodes) out[n.status].push(n.id);
  for (const list of Object.values(out)) list.sort();
  return out;
}

/**
 * The files of the smallest JS workspace with a dependency: packages/lib,
 * whose build script is `libBuild`, and packages/app, which depends on lib
 * and whose build writes `app` then lib's dist/out.txt into dist/app.txt.
 */
export function libAndApp(libBuild: string): Record<string, string> {
  const pkg = (json: Record<string, unknown>) => `${JSON.stringify(json)}\n`;
  return {
    'package.json': pkg({ name: 'root', private: true, workspaces: ['packages/*'] }),
    'packages/lib/package.json': pkg({ name: 'lib', version: '1.0.0', scripts: { build: libBuild } }),
    'packages/app/package.json': pkg({
      name: 'app',
      version: '1.0.0',
      dependencies: { lib: '1.0.0' },
      scripts: { build: 'mkdir -p dist && { echo app; cat ../lib/dist/out.txt; } > dist/app.txt' },
    }),
  };
}
