import { formatMs } from '../cli/progress.js';
import { textTable } from '../text-table.js';
import type { BenchResult, Rep } from './result.js';

/** A count that may vary between runs: `4`, or `3-4`. */
function range(reps: Rep[], pick: (r: Rep) => number): string {
  const values = reps.map(pick);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return lo === hi ? String(lo) : `${lo}-${hi}`;
}

/** One line on what a bench was: id, name, kiln, machine, commit. */
export function benchHeading(r: BenchResult): string {
  const parts = [
    r.id !== null ? `bench ${r.id}` : 'bench',
    ...(r.name ? [`'${r.name}'`] : []),
    r.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    `kiln ${r.kilnVersion}`,
    `${r.host.cores} cores`,
    ...(r.gitCommit ? [`commit ${r.gitCommit.slice(0, 10)}`] : []),
  ];
  return parts.join(', ');
}

/** The result table: per scenario, wall time of the whole `kiln build` process over its runs. */
export function formatBench(r: BenchResult): string {
  const rows = r.scenarios.map((s) => [
    s.name,
    s.kind,
    String(s.n),
    formatMs(s.medianMs),
    formatMs(s.minMs),
    formatMs(s.maxMs),
    range(s.reps, (x) => x.built),
    range(s.reps, (x) => x.cached),
  ]);
  return [benchHeading(r), '', ...textTable(['scenario', 'kind', 'runs', 'median', 'min', 'max', 'built', 'cached'], rows, 'll')].join('\n');
}

/** `kiln bench --list`: stored benches, newest first. */
export function formatBenchList(benches: BenchResult[]): string {
  if (benches.length === 0) return 'no benches recorded in this checkout (run kiln bench)';
  const rows = benches.map((b) => [
    String(b.id),
    b.name ?? '',
    b.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    b.gitCommit?.slice(0, 10) ?? '',
    b.scenarios.map((s) => `${s.name} ${formatMs(s.medianMs)}`).join(', '),
  ]);
  return textTable(['id', 'name', 'started', 'commit', 'scenario medians'], rows, 'rllll').join('\n');
}
