import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { UserError } from '../diagnostic.js';
import { outputTail, start } from '../proc.js';
import { runIdAt } from '../state/run-record.js';
import type { RunSummary } from '../pipeline/summary.js';

export interface ChildBuild {
  rootFile: string;
  targets: string[];
  cacheDir: string;
  /** Extra `kiln build` flags, e.g. --no-remote, -j N. */
  flags: string[];
  /** Where --summary goes: outside the workspace, so no input glob sees it. */
  summaryFile: string;
  signal: AbortSignal;
}

export interface ChildOutcome {
  wallMs: number;
  summary: RunSummary;
  runId: number | null;
}

/**
 * Runs one real `kiln build` process, as a user would, and times it from
 * spawn to exit: startup, loading and history included. The same CLI entry
 * as this process (process.argv[1]). A failed build is no measurement: it
 * stops the bench (exit 1) with the build's last lines.
 */
export async function childBuild(b: ChildBuild, db: Database.Database, label: string): Promise<ChildOutcome> {
  fs.rmSync(b.summaryFile, { force: true });
  const args = [
    process.argv[1]!, 'build', '-f', b.rootFile, ...b.targets,
    '--cache-dir', b.cacheDir, '--summary', b.summaryFile, '--logs', 'failed', ...b.flags,
  ];
  const started = start(process.execPath, args, { cwd: path.dirname(b.rootFile), env: process.env });
  const stop = () => started.child.kill('SIGTERM');
  b.signal.addEventListener('abort', stop);
  const proc = await started.done.finally(() => b.signal.removeEventListener('abort', stop));
  if (b.signal.aborted) throw new UserError([{ message: `bench: interrupted during ${label}` }], 1);
  if (proc.code !== 0 || !fs.existsSync(b.summaryFile)) {
    throw new UserError(
      [{ message: `bench: ${label}: kiln build exited with ${proc.code ?? proc.signal}; nothing was recorded\n  ${outputTail(proc).replace(/\n/g, '\n  ')}` }],
      1,
    );
  }
  const summary = JSON.parse(fs.readFileSync(b.summaryFile, 'utf8')) as RunSummary;
  return { wallMs: Math.round(proc.ms * 10) / 10, summary, runId: runIdAt(db, summary.command, Date.parse(summary.startedAt)) ?? null };
}
