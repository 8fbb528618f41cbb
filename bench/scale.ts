// Large build files, measured as whole processes in one run: a chain and a
// fan of N nodes (default 100,000), loaded cold and from the memo, planned
// (a dry run of every node) and, for the fan, a no-op build; against the
// floors of node's start and a plain parse of the same YAML.
//   node dist/bench/scale.js [--nodes 100000] [--runs 5] [--seed 1] [--json FILE] [--keep]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { summarize, type Stats } from '../engine/bench-command/stats.js';
import { textTable } from '../engine/report/text-table.js';
import { ok, run, type ProcResult } from '../engine/proc.js';
import type { RunSummary } from '../engine/pipeline/summary.js';
import { checkedSummary, KILN_MAIN, kilnEnv, requireKiln } from './kiln.js';
import { mulberry32, shuffle } from './prng.js';

const YAML_FLOOR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'yaml-floor.js');

type Shape = 'chain' | 'fan';

/** Per shape, in table order; README.md "Benchmarks" explains each. */
const SCENARIOS = {
  node: 'node -e 0',
  yaml: 'floor: js-yaml load of the file',
  cold: 'load cold: build <first> --dry-run, no memo',
  memo: 'load from the memo: the same',
  plan: 'plan: build --dry-run of every node',
  noop: 'no-op build (every node up to date)',
} as const;
type ScenarioId = keyof typeof SCENARIOS;

/** A chain of n nodes (each depends on the one before) or a fan (n - 1 nodes depend on one root). */
function buildFile(shape: Shape, n: number): string {
  const lines = ['nodes:'];
  for (let i = 0; i < n; i++) {
    const dep = shape === 'chain' ? (i > 0 ? `n${i - 1}` : undefined) : i > 0 ? 'n0' : undefined;
    // An argv command runs without a shell; the fan's leaves share one key, so its one cold build restores them.
    lines.push(`  n${i}:`, '    rule: run', ...(dep ? [`    deps: [${dep}]`] : []), '    cmd: ["true"]');
  }
  return `${lines.join('\n')}\n`;
}

interface Workspace {
  shape: Shape;
  dir: string;
  cacheDir: string;
  summaryFile: string;
}

async function kilnBuild(ws: Workspace, args: string[], label: string): Promise<{ proc: ProcResult; summary: RunSummary }> {
  fs.rmSync(ws.summaryFile, { force: true });
  const proc = await run(process.execPath, [KILN_MAIN, 'build', '--logs', 'none', '--cache-dir', ws.cacheDir, '--summary', ws.summaryFile, ...args], {
    cwd: ws.dir,
    env: { ...kilnEnv(), KILN_DAEMON: '0' },
    timeoutMs: 30 * 60 * 1000,
  });
  return { proc, summary: checkedSummary(proc, ws.summaryFile, `${ws.shape}: ${label}`) };
}

/**
 * `build n0 --dry-run` as a user runs it: with no --summary, whose 100,000
 * rows (all but one "not selected") would add their own writing to the
 * load. Checked from the line it prints: one node selected, none failed.
 */
async function kilnLoad(ws: Workspace, label: string): Promise<ProcResult> {
  const proc = await run(process.execPath, [KILN_MAIN, 'build', 'n0', '--dry-run', '--logs', 'none', '--cache-dir', ws.cacheDir], {
    cwd: ws.dir,
    env: { ...kilnEnv(), KILN_DAEMON: '0' },
    timeoutMs: 30 * 60 * 1000,
  });
  const line = ok(`${ws.shape}: ${label}`, proc).stdout.trim().split('\n').at(-1) ?? '';
  if (!/^kiln: dry run: 1 nodes, 0 built, .*, 0 failed, /.test(line)) throw new Error(`${ws.shape}: ${label}: expected one node selected, got '${line}'`);
  return proc;
}

/** The statuses a scenario must leave, or the sample is not counted: a benchmark of a broken build measures nothing. */
function expectCounts(label: string, summary: RunSummary, want: { wouldRun?: number; upToDate?: number; selected: number }): void {
  const selected = summary.nodes.filter((x) => x.error !== 'not selected');
  const wouldRun = selected.filter((x) => x.status === 'skipped' && x.error?.startsWith('would run')).length;
  const upToDate = selected.filter((x) => x.status === 'cached' && x.upToDate).length;
  const got = { selected: selected.length, ...(want.wouldRun !== undefined ? { wouldRun } : {}), ...(want.upToDate !== undefined ? { upToDate } : {}) };
  if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`${label}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      nodes: { type: 'string', default: '100000' },
      runs: { type: 'string', default: '5' },
      seed: { type: 'string', default: '1' },
      json: { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  });
  const n = Number(values.nodes);
  const runs = Number(values.runs);
  if (!Number.isInteger(n) || n < 2 || !Number.isInteger(runs) || runs < 1) throw new Error('--nodes must be an integer >= 2 and --runs >= 1');
  requireKiln();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-scale-'));
  const rand = mulberry32(Number(values.seed));
  const samples = new Map<string, number[]>();
  const record = (shape: Shape, id: ScenarioId, ms: number) => {
    const key = `${shape}/${id}`;
    samples.set(key, [...(samples.get(key) ?? []), ms]);
    process.stderr.write(`${shape}: ${SCENARIOS[id]}: ${ms.toFixed(0)} ms\n`);
  };
  try {
    for (const shape of ['chain', 'fan'] as const) {
      const dir = path.join(tmp, shape);
      fs.mkdirSync(dir);
      const file = path.join(dir, 'kiln.yaml');
      fs.writeFileSync(file, buildFile(shape, n));
      const ws: Workspace = { shape, dir, cacheDir: path.join(tmp, `${shape}-cache`), summaryFile: path.join(tmp, `${shape}-summary.json`) };
      const memo = path.join(dir, '.kiln', 'workspace.json');
      if (shape === 'fan') {
        // Built once, untimed: the root runs, its leaves share one key and are restored.
        const cold = await kilnBuild(ws, ['-j', '2'], 'the first build');
        if (cold.summary.nodes.some((x) => x.status !== 'built' && x.status !== 'cached')) throw new Error('fan: the first build did not build every node');
      }
      const steps: Partial<Record<ScenarioId, () => Promise<void>>> = {
        node: async () => record(shape, 'node', ok('node -e 0', await run(process.execPath, ['-e', '0'], { env: kilnEnv() })).ms),
        yaml: async () => {
          const r = ok('yaml floor', await run(process.execPath, [YAML_FLOOR, file], { env: kilnEnv() }));
          if (r.stdout.trim() !== `entries=${n}`) throw new Error(`yaml floor read '${r.stdout.trim()}', expected entries=${n}`);
          record(shape, 'yaml', r.ms);
        },
        cold: async () => {
          fs.rmSync(memo, { force: true });
          const proc = await kilnLoad(ws, 'cold load');
          if (!fs.existsSync(memo)) throw new Error(`${shape}: the cold load wrote no memo`);
          record(shape, 'cold', proc.ms);
        },
        memo: async () => {
          if (!fs.existsSync(memo)) await kilnLoad(ws, 'memo');
          record(shape, 'memo', (await kilnLoad(ws, 'memo load')).ms);
        },
        plan: async () => {
          const r = await kilnBuild(ws, ['--dry-run'], 'plan');
          expectCounts('plan', r.summary, shape === 'chain' ? { selected: n, wouldRun: n } : { selected: n, wouldRun: 0 });
          record(shape, 'plan', r.proc.ms);
        },
        ...(shape === 'fan'
          ? {
              noop: async () => {
                const r = await kilnBuild(ws, ['-j', '2'], 'no-op');
                expectCounts('no-op', r.summary, { selected: n, upToDate: n });
                record(shape, 'noop', r.proc.ms);
              },
            }
          : {}),
      };
      // Interleaved, in an order shuffled per round: a load spike shifts one sample of several scenarios.
      for (let round = 0; round < runs; round++) {
        for (const id of shuffle(Object.keys(steps) as ScenarioId[], rand)) await steps[id]!();
      }
    }
  } finally {
    if (values.keep) process.stderr.write(`kept ${tmp}\n`);
    else fs.rmSync(tmp, { recursive: true, force: true });
  }
  const stats = new Map<string, Stats>([...samples].map(([k, v]) => [k, summarize(v)]));
  const rows: string[][] = [];
  for (const shape of ['chain', 'fan'] as const) {
    const floor = stats.get(`${shape}/yaml`)!.median;
    for (const id of Object.keys(SCENARIOS) as ScenarioId[]) {
      const s = stats.get(`${shape}/${id}`);
      if (s) rows.push([`${shape}: ${SCENARIOS[id]}`, s.median.toFixed(0), s.min.toFixed(0), s.max.toFixed(0), (s.median / floor).toFixed(2)]);
    }
  }
  const cold = Math.max(stats.get('chain/cold')!.median, stats.get('fan/cold')!.median);
  const lines = [
    `kiln scale bench: ${n} nodes, ${runs} runs; ${os.availableParallelism()} cpus, node ${process.version}`,
    '',
    ...textTable(['scenario', 'median ms', 'min', 'max', 'x yaml floor'], rows),
    '',
    `${cold < 1000 ? 'PASS' : 'FAIL'}  a ${n}-node build file loads (cold, whole process) in under a second: ${cold.toFixed(0)} ms`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (values.json) fs.writeFileSync(values.json, `${JSON.stringify({ version: 1, nodes: n, runs, scenarios: Object.fromEntries(stats) }, null, 2)}\n`);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exitCode = 1;
});
