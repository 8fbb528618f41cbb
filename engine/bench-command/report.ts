import { formatMs } from '../report/format.js';
import { textTable } from '../report/text-table.js';
import type { Comparison, Verdict } from './compare.js';
import type { BenchResult, Rep } from './result.js';
import { maxOf, minOf } from '../arrays.js';

/** A count that may vary between runs: `4`, or `3-4`. */
function range(reps: Rep[], pick: (r: Rep) => number): string {
  const values = reps.map(pick);
  const lo = minOf(values);
  const hi = maxOf(values);
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

const VERDICTS: Record<Verdict, string> = {
  ok: 'ok',
  faster: 'faster',
  regression: 'REGRESSION',
  noise: 'ok (within noise)',
  new: 'new: not compared',
  changed: 'kind changed: not compared',
};

/** `--compare`: baseline and current medians, their ratio and a verdict per scenario. */
export function formatComparison(c: Comparison): string {
  const b = c.baseline;
  const what = [
    b.id !== null ? `bench ${b.id}` : 'a bench file',
    ...(b.name ? [`'${b.name}'`] : []),
    b.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    ...(b.gitCommit ? [`commit ${b.gitCommit.slice(0, 10)}`] : []),
  ].join(', ');
  const rows = c.rows.map((r) => [
    r.scenario,
    r.baselineMs === null ? '-' : formatMs(r.baselineMs),
    formatMs(r.nowMs),
    r.ratio === null ? '-' : r.ratio.toFixed(2),
    VERDICTS[r.verdict],
  ]);
  return [
    `compared with ${what} (regression: median over +${c.thresholdPct}% and ${c.noiseMs} ms)`,
    '',
    ...textTable(['scenario', 'baseline', 'now', 'ratio', 'verdict'], rows, 'lrrrl'),
  ].join('\n');
}
