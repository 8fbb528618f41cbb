import { formatBytes, formatMs } from './format.js';
import type { NodeRunRecord } from '../state/run-record.js';
import type { HitRate, ReportModel } from './model.js';

/** `25% (1 of 4)`, or `n/a` when no node was evaluated. */
export function formatHitRate(h: HitRate): string {
  return h.ratio === null ? 'n/a (no node evaluated)' : `${Math.round(h.ratio * 100)}% (${h.cached} of ${h.evaluated})`;
}

/** `13% slower than the fastest possible (+140 ms)`: what scheduling, kiln's own overhead and waiting cost. */
export function formatDistance(m: ReportModel): string {
  const b = m.bound;
  if (b.ratio === null) return 'no node took any time: nothing to compare with';
  return `${Math.round((b.ratio - 1) * 100)}% slower than the fastest possible (${b.aboveBoundMs >= 0 ? '+' : '−'}${formatMs(Math.abs(b.aboveBoundMs))})`;
}

/** `built`, `cached (local)`. */
export function formatStatus(n: Pick<NodeRunRecord, 'status' | 'cache'>): string {
  return n.cache ? `${n.status} (${n.cache})` : n.status;
}

/** The UTC time of an epoch-ms instant, to the second: `2026-11-24 01:32:23 UTC`. */
export function formatTime(epochMs: number): string {
  return `${new Date(epochMs).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** `kiln report` without -o: the run, its critical path and the fastest it could have been, the slowest nodes. */
export function textReport(m: ReportModel): string {
  const { run, bound } = m;
  const lines = [
    `run ${run.id} (${run.command}) started ${formatTime(run.startedAt)}`,
    `duration ${formatMs(run.durationMs)} on ${run.workers} worker${run.workers === 1 ? '' : 's'}, exit ${run.exitCode}`,
    `nodes: ${run.built} built, ${run.cached} cached, ${run.failed} failed, ${run.skipped} skipped; cache hit ratio ${formatHitRate(m.hits)}`,
    ...run.upstream.map((u) => `upstream: ${u.node} ${u.commit.slice(0, 10)}${u.ref === u.commit ? '' : ` (${u.ref})`}`),
    '',
    `critical path: ${formatMs(bound.criticalPathMs)} over ${bound.path.length} node${bound.path.length === 1 ? '' : 's'}`,
    ...bound.path.map((p) => `  ${formatMs(p.durationMs).padStart(9)}  ${p.node}`),
    `total work: ${formatMs(bound.totalWorkMs)}, ${formatMs(bound.totalWorkMs / Math.max(1, bound.workers))} per worker over ${bound.workers}`,
    `fastest possible on ${bound.workers} worker${bound.workers === 1 ? '' : 's'}: ${formatMs(bound.lowerBoundMs)} (the critical path, or the total work shared by the workers, whichever is longer)`,
    `this run: ${formatMs(run.durationMs)}, ${formatDistance(m)}`,
    '',
    `slowest nodes:`,
    ...m.slowest.map(
      (n) =>
        `  ${formatMs(n.durationMs).padStart(9)}  ${formatStatus(n).padEnd(15)} ${formatBytes(n.bytes).padStart(10)}  ${n.node}${m.critical.has(n.node) ? '  (critical path)' : ''}`,
    ),
  ];
  if (m.slowest.length === 0) lines.push('  (no node ran)');
  return `${lines.join('\n')}\n`;
}
