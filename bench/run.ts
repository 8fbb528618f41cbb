// kiln's speed, measured in one run on a fresh synthetic workspace, as ratios
// to costs no build tool can avoid (process start, stat+hash of every input).
//   node dist/bench/run.js [--nodes 1000] [--files 10] [--runs 5] [--cold-runs 3]
//                          [--layers 10] [--seed 1] [--jobs N] [--json FILE] [--keep]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { expectDaemonDid, readyDaemonCounts, startDaemon, stopDaemon } from './daemon.js';
import { dependentsClosure, leaves } from './dag.js';
import { generateWorkspace, type GeneratedWorkspace } from './generate.js';
import { build, expectStatuses, kiln, kilnEnv, requireKiln, type BuildTarget } from './kiln.js';
import { editSource, readOutputs, removeOutputs, removeState } from './mutate.js';
import { mulberry32, shuffle } from './prng.js';
import { ok, run } from '../engine/proc.js';
import { formatTable, type Bar, type BenchResults, type ScenarioResult } from './report.js';
import { summarize } from '../engine/bench-command/stats.js';

const FLOOR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'floor.js');

/** Scenarios in table order; README.md "Benchmarks" explains each. */
const SCENARIOS = {
  cold: 'cold build (empty cache)',
  noop: 'no-op build',
  daemon: 'no-op build (daemon)',
  leaf: 'one leaf changed',
  leafDaemon: 'one leaf changed (daemon)',
  root: 'one root changed',
  restore: 'restore from local cache',
  version: 'kiln --version',
  node: 'node -e 0',
  floor: 'floor (stat+hash inputs)',
} as const;
type ScenarioId = keyof typeof SCENARIOS;

interface Options {
  nodes: number;
  files: number;
  layers: number;
  seed: number;
  runs: number;
  coldRuns: number;
  jobs: number | undefined;
  json: string | undefined;
  keep: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      nodes: { type: 'string', default: '1000' },
      files: { type: 'string', default: '10' },
      layers: { type: 'string', default: '10' },
      seed: { type: 'string', default: '1' },
      runs: { type: 'string', default: '5' },
      'cold-runs': { type: 'string' },
      jobs: { type: 'string' },
      json: { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  });
  const int = (name: string, raw: string) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} expects a positive integer, got '${raw}'`);
    return n;
  };
  const runs = int('runs', values.runs);
  return {
    nodes: int('nodes', values.nodes),
    files: int('files', values.files),
    layers: int('layers', values.layers),
    seed: int('seed', values.seed),
    runs,
    // Each cold run needs a new workspace and cache and takes the longest: 3 are enough for a median.
    coldRuns: values['cold-runs'] ? int('cold-runs', values['cold-runs']) : Math.min(3, runs),
    jobs: values.jobs ? int('jobs', values.jobs) : undefined,
    json: values.json,
    keep: values.keep,
  };
}

/** One sample: its wall time, the nodes kiln built, and (for kiln builds) the peak RSS of the process that ran it. */
type Recorder = (id: ScenarioId, ms: number, nodesBuilt?: number, peakRssKiB?: number) => void;

async function main(argv: string[]): Promise<void> {
  const opts = parseOptions(argv);
  requireKiln();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-bench-'));
  const startedAt = new Date().toISOString();
  const loadavgStart = os.loadavg();
  const samples = new Map<ScenarioId, number[]>(Object.keys(SCENARIOS).map((id) => [id as ScenarioId, []]));
  const built = new Map<ScenarioId, number>();
  const rss = new Map<ScenarioId, number>();
  const record: Recorder = (id, ms, nodesBuilt, peakRssKiB) => {
    samples.get(id)!.push(ms);
    if (nodesBuilt !== undefined) built.set(id, nodesBuilt);
    if (peakRssKiB !== undefined) rss.set(id, Math.max(rss.get(id) ?? 0, peakRssKiB));
    progress(`${SCENARIOS[id]}: ${ms.toFixed(0)} ms`);
  };
  let layers: number;
  try {
    const { ws, target } = await measureCold(opts, tmp, record);
    layers = ws.layers;
    await measureIncremental(ws, target, opts, record);
  } finally {
    if (opts.keep) progress(`kept ${tmp}`);
    else fs.rmSync(tmp, { recursive: true, force: true });
  }

  const floor = summarize(samples.get('floor')!).median;
  const scenarios: ScenarioResult[] = (Object.keys(SCENARIOS) as ScenarioId[]).map((id) => {
    const s = summarize(samples.get(id)!);
    const peak = rss.get(id);
    return { id, title: SCENARIOS[id], ...s, nodesBuilt: built.get(id) ?? null, peakRssMiB: peak === undefined ? null : peak / 1024, ratioToFloor: s.median / floor };
  });
  const median = (id: ScenarioId) => scenarios.find((s) => s.id === id)!.median;
  const perCachedNodeMs = (median('noop') - median('node')) / opts.nodes;
  const noopOverFloor = median('noop') / floor;
  const bar = (name: string, value: number, limit: number, unit: string): Bar => ({ name, value, limit, unit, pass: value <= limit });
  const results: BenchResults = {
    version: 1,
    startedAt,
    machine: {
      cpus: os.availableParallelism(),
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      loadavgStart,
      loadavgEnd: os.loadavg(),
    },
    params: { nodes: opts.nodes, files: opts.files, layers, seed: opts.seed, runs: opts.runs, coldRuns: opts.coldRuns, jobs: opts.jobs ?? null },
    scenarios,
    derived: { perCachedNodeMs, noopOverFloor },
    bars: [
      bar('no-op / floor', noopOverFloor, 2, 'x'),
      bar('per cached node (well under 1 ms)', perCachedNodeMs, 1, 'ms'),
      bar('kiln --version', median('version'), 150, 'ms'),
      // A resident process skips what the floor must do: it should cost a fraction of it.
      bar('no-op with the daemon / floor', median('daemon') / floor, 0.5, 'x'),
      // The bar: floor + the leaf's own work + 0.1 s (the generated leaf's work, ~10 ms, counts against kiln here).
      bar('one leaf changed, daemon running - floor', median('leafDaemon') - floor, 100, 'ms'),
    ],
  };
  process.stdout.write(`\n${formatTable(results)}\n`);
  if (opts.json) {
    fs.writeFileSync(opts.json, `${JSON.stringify(results, null, 2)}\n`);
    progress(`results written to ${opts.json}`);
  }
}

/**
 * (a) Cold: every run on a new workspace with a new, empty cache (each run
 * would otherwise hit the previous one's cache). The last workspace and its
 * now full cache are returned for the incremental scenarios.
 */
async function measureCold(opts: Options, tmp: string, record: Recorder): Promise<{ ws: GeneratedWorkspace; target: BuildTarget }> {
  let last: { ws: GeneratedWorkspace; target: BuildTarget } | undefined;
  for (let i = 0; i < opts.coldRuns; i++) {
    if (last) {
      fs.rmSync(last.ws.dir, { recursive: true, force: true });
      fs.rmSync(last.target.cacheDir, { recursive: true, force: true });
    }
    const ws = generateWorkspace(path.join(tmp, `ws-${i}`), { nodes: opts.nodes, files: opts.files, layers: opts.layers, seed: opts.seed });
    const target: BuildTarget = {
      dir: ws.dir,
      cacheDir: path.join(tmp, `cache-${i}`),
      summaryFile: path.join(tmp, 'summary.json'),
      ...(opts.jobs ? { jobs: opts.jobs } : {}),
    };
    const ids = ws.nodes.map((n) => n.id);
    const r = await build(target, `cold build ${i + 1}`);
    expectStatuses(`cold build ${i + 1}`, r.summary, ids, new Set(ids));
    record('cold', r.proc.ms, ids.length, r.summary.peakRssKiB);
    last = { ws, target };
  }
  return last!;
}

/**
 * (b)-(h), interleaved: each round measures every scenario once, in an order
 * shuffled per round (seeded), so a load spike on this shared machine or the
 * aftermath of the previous step (page-cache writeback after a restore)
 * shifts one sample of several scenarios rather than all samples of one.
 * Every step leaves the workspace consistent, so any order is valid.
 */
async function measureIncremental(
  ws: GeneratedWorkspace,
  target: BuildTarget,
  opts: Options,
  record: Recorder,
): Promise<void> {
  const ids = ws.nodes.map((n) => n.id);
  const none = new Set<string>();
  const leaf = leaves(ws.nodes).at(-1)!;
  const root = ws.nodes.find((n) => n.layer === 0)!;
  const rootDependents = dependentsClosure(ws.nodes, root.id);
  const expectedFiles = ws.nodes.length * ws.files + 1; // sources + kiln.yaml
  let edits = 0;
  // Every scenario but 'daemon' builds without asking the daemon (KILN_DAEMON=0); their builds still notify it.
  const direct: BuildTarget = { ...target, env: { ...target.env, KILN_DAEMON: '0' } };

  const steps: Record<Exclude<ScenarioId, 'cold'>, () => Promise<void>> = {
    // Baselines get kiln's exact environment: an inherited NODE_EXTRA_CA_CERTS alone adds ~100 ms to node's start here.
    node: async () => record('node', ok('node -e 0', await run(process.execPath, ['-e', '0'], { env: kilnEnv() })).ms),
    version: async () => {
      const r = ok('kiln --version', await kiln(['--version']));
      if (!r.stdout.startsWith('kiln ')) throw new Error(`kiln --version printed '${r.stdout.trim()}'`);
      record('version', r.ms);
    },
    floor: async () => {
      const r = ok('floor', await run(process.execPath, [FLOOR, ws.dir], { env: kilnEnv() }));
      if (!r.stdout.startsWith(`files=${expectedFiles} `)) throw new Error(`floor saw '${r.stdout.trim()}', expected files=${expectedFiles}`);
      record('floor', r.ms);
    },
    noop: async () => {
      const r = await build(direct, 'no-op');
      expectStatuses('no-op', r.summary, ids, none);
      record('noop', r.proc.ms, 0, r.summary.peakRssKiB);
    },
    daemon: async () => {
      await startDaemon(ws.dir); // again after the restore step removed the state dir, and the daemon with it
      const before = await readyDaemonCounts(ws.dir);
      const r = await build(target, 'no-op (daemon)');
      expectStatuses('no-op (daemon)', r.summary, ids, none);
      expectDaemonDid('no-op (daemon)', before, await readyDaemonCounts(ws.dir), 'fromMemory');
      record('daemon', r.proc.ms, 0, r.summary.peakRssKiB);
    },
    leaf: async () => {
      editSource(ws, leaf.id, `leaf ${edits++}`);
      const r = await build(direct, 'one leaf changed');
      expectStatuses(`one leaf (${leaf.id}) changed`, r.summary, ids, new Set([leaf.id]));
      record('leaf', r.proc.ms, 1, r.summary.peakRssKiB);
    },
    // The daemon runs the build; the 999 nodes the change did not touch need no stat.
    leafDaemon: async () => {
      await startDaemon(ws.dir);
      const before = await readyDaemonCounts(ws.dir);
      editSource(ws, leaf.id, `leaf ${edits++}`);
      const r = await build(target, 'one leaf changed (daemon)');
      expectStatuses(`one leaf (${leaf.id}) changed, daemon running`, r.summary, ids, new Set([leaf.id]));
      expectDaemonDid('one leaf changed (daemon)', before, await readyDaemonCounts(ws.dir), 'ran');
      record('leafDaemon', r.proc.ms, 1, r.summary.peakRssKiB);
    },
    root: async () => {
      editSource(ws, root.id, `root ${edits++}`);
      const r = await build(direct, 'one root changed');
      // Exactly the dependents: the generated commands put content in every output, so no early cutoff may hide one.
      expectStatuses(`one root (${root.id}) changed`, r.summary, ids, rootDependents);
      record('root', r.proc.ms, rootDependents.size, r.summary.peakRssKiB);
    },
    restore: async () => {
      const before = readOutputs(ws);
      removeOutputs(ws);
      removeState(ws);
      const r = await build(direct, 'restore from cache');
      expectStatuses('restore from cache', r.summary, ids, none);
      const after = readOutputs(ws);
      const wrong = ids.filter((id) => !before.get(id)?.equals(after.get(id) ?? Buffer.alloc(0)));
      if (wrong.length > 0) throw new Error(`restore from cache: ${wrong.length} nodes' outputs differ from before, e.g. ${wrong[0]}`);
      record('restore', r.proc.ms, 0, r.summary.peakRssKiB);
    },
  };

  // Unmeasured: files written just before the cold build are too recent for
  // kiln's stat memo to trust (racy mtimes), so the first no-op rehashes them.
  expectStatuses('warm-up no-op', (await build(direct, 'warm-up no-op')).summary, ids, none);

  await startDaemon(ws.dir);
  try {
    const rand = mulberry32(opts.seed);
    for (let round = 0; round < opts.runs; round++) {
      progress(`round ${round + 1}/${opts.runs}`);
      for (const step of shuffle(Object.values(steps), rand)) await step();
    }
  } finally {
    await stopDaemon(ws.dir);
  }
}

function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`bench: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
