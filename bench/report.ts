// The benchmark's results: one JSON shape (--json) and its text table.
import type { Stats } from '../engine/bench-command/stats.js';
import { textTable } from '../engine/report/text-table.js';

export interface ScenarioResult extends Stats {
  id: string;
  title: string;
  /** Nodes kiln built (ran) in each measured run; null for non-build scenarios. */
  nodesBuilt: number | null;
  /** The largest peak RSS of the kiln process (or its daemon) over the runs; null for non-build scenarios. */
  peakRssMiB: number | null;
  /** median / the floor's median. */
  ratioToFloor: number;
}

/** One acceptance bar from the issue, checked against this run. */
export interface Bar {
  name: string;
  value: number;
  limit: number;
  unit: string;
  pass: boolean;
}

export interface BenchResults {
  version: 1;
  startedAt: string;
  machine: { cpus: number; cpuModel: string; node: string; platform: string; loadavgStart: number[]; loadavgEnd: number[] };
  params: { nodes: number; files: number; layers: number; seed: number; runs: number; coldRuns: number; jobs: number | null };
  scenarios: ScenarioResult[];
  derived: {
    /** (no-op median − `node -e 0` median) / nodes: what one up-to-date node costs kiln. */
    perCachedNodeMs: number;
    noopOverFloor: number;
  };
  bars: Bar[];
}

export function formatTable(r: BenchResults): string {
  const header = ['scenario', 'built', 'median ms', 'min', 'max', 'x floor', 'peak RSS MiB'];
  const rows = r.scenarios.map((s) => [
    s.title,
    s.nodesBuilt === null ? '' : String(s.nodesBuilt),
    s.median.toFixed(0),
    s.min.toFixed(0),
    s.max.toFixed(0),
    s.ratioToFloor.toFixed(2),
    s.peakRssMiB === null ? '' : s.peakRssMiB.toFixed(0),
  ]);
  const p = r.params;
  return [
    `kiln bench: ${p.nodes} nodes x ${p.files} files, ${p.layers} layers, seed ${p.seed}; ${p.runs} runs (cold: ${p.coldRuns}); ` +
      `${r.machine.cpus} cpus, node ${r.machine.node}, load ${r.machine.loadavgStart.map((l) => l.toFixed(2)).join(' ')}`,
    '',
    ...textTable(header, rows),
    '',
    `per cached node: ${r.derived.perCachedNodeMs.toFixed(3)} ms  ((no-op - node startup) / ${p.nodes})`,
    `no-op / floor:   ${r.derived.noopOverFloor.toFixed(2)}`,
    '',
    ...r.bars.map(formatBar),
  ].join('\n');
}

export function formatBar(b: Bar): string {
  return `${b.pass ? 'PASS' : 'FAIL'}  ${b.name}: ${fmt(b.value)} ${b.unit} (limit ${fmt(b.limit)})`;
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(n < 10 ? 3 : 0);
}
