import type { Reporter } from './events.js';
import { DEFAULT_KEEP_RUNS, type RunFacts, type RunHistory } from '../state/history.js';
import { writeSummary, type NodeSummary, type RunSummary } from './summary.js';
import type { RemoteStats } from '../../cache/remote/session.js';

/** What a run ends with, however it ran: a build, or the daemon's answer from memory. */
export interface RunEnd {
  command: string;
  startedAt: Date;
  /** performance.now() when the run began. */
  t0: number;
  dryRun: boolean;
  remote?: RemoteStats;
  /** One row per node of the workspace, in declaration order. */
  nodes: NodeSummary[];
  exitCode: 0 | 1 | 2;
}

/** Where a run is recorded: the checkout's history (not for a dry run), pruned to `keepRuns`. */
export interface RunRecording {
  history: RunHistory;
  keepRuns?: number;
  facts: Omit<RunFacts, 'exitCode'>;
}

/**
 * The end of every run, in one place: the summary (format version 1), its
 * row in history with old runs pruned, the renderer's closing line, and
 * the `--summary` file.
 */
export function finishRun(end: RunEnd, recording: RunRecording | undefined, report: Reporter, summaryFile?: string): { summary: RunSummary; runId?: number } {
  const summary: RunSummary = {
    version: 1,
    command: end.command,
    startedAt: end.startedAt.toISOString(),
    durationMs: Math.round(performance.now() - end.t0),
    peakRssKiB: process.resourceUsage().maxRSS,
    ...(end.dryRun ? { dryRun: true as const } : {}),
    ...(end.remote ? { remote: end.remote } : {}),
    nodes: end.nodes,
  };
  let runId: number | undefined;
  if (recording && !end.dryRun) {
    runId = recording.history.recordRun(summary, { ...recording.facts, exitCode: end.exitCode });
    recording.history.prune(recording.keepRuns ?? DEFAULT_KEEP_RUNS);
  }
  report({ type: 'end', summary });
  if (summaryFile) writeSummary(summaryFile, summary);
  return { summary, ...(runId !== undefined ? { runId } : {}) };
}
