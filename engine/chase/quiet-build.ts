import type { Workspace } from '../buildfile/types.js';
import { runBuild } from '../pipeline/run-build.js';
import type { RunSummary } from '../pipeline/summary.js';
import type { RemoteSetup } from '../../cache/remote/config.js';

export interface QuietBuildOptions {
  selected: Set<string>;
  overrides: ReadonlyMap<string, string>;
  jobs: number;
  cacheDir: string;
  signal: AbortSignal;
  command: string;
  remote?: RemoteSetup;
}

/**
 * One build at a pinned upstream commit, printing nothing: chase and bisect
 * print their own tables. Keeps the output of failed nodes for the report.
 * Runs offline: the caller fetched the mirrors once before its builds.
 */
export async function quietBuild(
  ws: Workspace,
  opts: QuietBuildOptions,
): Promise<{ summary: RunSummary; failedLogs: Map<string, string>; runId?: number }> {
  const failedLogs = new Map<string, string>();
  const { summary, runId } = await runBuild(
    ws,
    {
      selected: opts.selected,
      jobs: opts.jobs,
      keepGoing: true,
      dryRun: false,
      // Only failed nodes' logs are read (failedLogs); a cached node's is never shown.
      replayLogs: false,
      cacheDir: opts.cacheDir,
      env: process.env,
      signal: opts.signal,
      command: opts.command,
      args: process.argv.slice(2),
      offline: true,
      overrides: opts.overrides,
      ...(opts.remote ? { remote: opts.remote } : {}),
    },
    (e) => {
      if (e.type === 'node-done' && e.node.status === 'failed' && e.log) failedLogs.set(e.node.id, e.log.toString('utf8'));
    },
  );
  return { summary, failedLogs, ...(runId !== undefined ? { runId } : {}) };
}
