// kiln against Turborepo and Nx on the same npm-workspaces monorepo, on the
// same machine in the same run (README.md, "Against Turborepo and Nx").
//   node dist/bench/peers/run.js [--packages 100,1000] [--files 10] [--runs 5] [--cold-runs N]
//                                [--layers 10] [--seed 1] [--scenarios noop,warm,leaf,warmLeaf,root,restore,fresh]
//                                [--tools kiln,turbo,nx] [--tools-dir DIR] [--json FILE] [--readme FILE] [--keep]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { dependentsClosure, leaves } from '../dag.js';
import { command, nodeDir, OUTPUT_DIR, positiveInt } from '../generate.js';
import { kilnEnv, requireKiln } from '../kiln.js';
import { editSource, readOutputs, removeOutputs } from '../mutate.js';
import { mulberry32, shuffle } from '../prng.js';
import { ok, run } from '../../engine/proc.js';
import { formatBar, type Bar } from '../report.js';
import { summarize, type Stats } from '../../engine/bench-command/stats.js';
import { textTable } from '../../engine/report/text-table.js';
import { kilnDriver, nxDriver, turboDriver, type Driver, type ToolName } from './drivers.js';
import { copyMonorepo, generateMonorepo } from './monorepo.js';
import { defaultToolsDir, ensurePeerTools, PEER_VERSIONS, type PeerTools } from './tools.js';

const FLOOR = path.join(path.dirname(fileURLToPath(import.meta.url)), '../floor.js');
const TOOLS: ToolName[] = ['kiln', 'turbo', 'nx'];

/** Scenarios every tool runs, in table order. */
const BUILDS = {
  cold: 'cold build (empty caches)',
  noop: 'no-op build',
  warm: 'no-op, resident process (kiln/nx daemons)',
  leaf: 'one leaf changed',
  warmLeaf: 'one leaf changed, resident process',
  root: 'one root changed',
  restore: 'restore all outputs',
  fresh: 'fresh clone, warm cache',
} as const;
type BuildId = keyof typeof BUILDS;

/** Costs no tool avoids, measured once per round. */
const BASELINES = {
  floor: 'floor (stat+hash inputs)',
  statFloor: 'floor (stat inputs)',
  untar: 'tar -x of every output',
  leafWork: "the leaf's script alone",
  node: 'node -e 0',
} as const;
type BaselineId = keyof typeof BASELINES;

interface Options {
  packages: number[];
  files: number;
  layers: number;
  seed: number;
  runs: number;
  coldRuns: number;
  /** The tools measured: kiln and the peers asked for. */
  tools: ToolName[];
  toolsDir: string;
  /** The scenarios of the measured rounds (cold always runs --cold-runs times: the others start from it). */
  scenarios: Exclude<BuildId, 'cold'>[];
  json: string | undefined;
  /** README.md to rewrite the figures of (between its peers-figures markers). */
  readme: string | undefined;
  keep: boolean;
}

interface ToolResult extends Stats {
  /** Tasks run per sample (first sample's; every sample is checked to be the same for kiln). */
  ran: number[];
}

/** Per tool measured (kiln always; the peers of --tools). */
type ByTool = { kiln: ToolResult } & Partial<Record<ToolName, ToolResult>>;

interface SizeResult {
  packages: number;
  layers: number;
  rootDependents: number;
  /** Per measured scenario (cold, and those of --scenarios). */
  builds: Partial<Record<BuildId, ByTool>>;
  baselines: Record<BaselineId, Stats>;
  bars: Bar[];
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      packages: { type: 'string', default: '100' },
      files: { type: 'string', default: '10' },
      layers: { type: 'string', default: '10' },
      seed: { type: 'string', default: '1' },
      runs: { type: 'string', default: '5' },
      'cold-runs': { type: 'string' },
      tools: { type: 'string', default: 'kiln,turbo,nx' },
      'tools-dir': { type: 'string' },
      scenarios: { type: 'string', default: 'noop,warm,leaf,warmLeaf,root,restore,fresh' },
      json: { type: 'string' },
      readme: { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  });
  const runs = positiveInt('runs', values.runs);
  return {
    packages: values.packages.split(',').map((p) => positiveInt('packages', p)),
    files: positiveInt('files', values.files),
    layers: positiveInt('layers', values.layers),
    seed: positiveInt('seed', values.seed),
    runs,
    coldRuns: values['cold-runs'] ? positiveInt('cold-runs', values['cold-runs']) : runs,
    tools: [
      'kiln',
      ...values.tools.split(',').map((t) => {
        if (!TOOLS.includes(t as ToolName)) throw new Error(`--tools: unknown '${t}' (kiln, turbo, nx)`);
        return t as ToolName;
      }).filter((t) => t !== 'kiln'),
    ],
    toolsDir: values['tools-dir'] ?? defaultToolsDir(),
    scenarios: values.scenarios.split(',').map((id) => {
      if (id === 'cold' || !(id in BUILDS)) throw new Error(`--scenarios: unknown '${id}' (noop, warm, leaf, warmLeaf, root, restore, fresh)`);
      return id as Exclude<BuildId, 'cold'>;
    }),
    json: values.json,
    readme: values.readme,
    keep: values.keep,
  };
}

async function main(argv: string[]): Promise<void> {
  const opts = parseOptions(argv);
  requireKiln();
  const tools = ensurePeerTools(opts.toolsDir, progress);
  const results: SizeResult[] = [];
  for (const packages of opts.packages) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `kiln-peers-${packages}-`));
    try {
      results.push(await measureSize(packages, opts, tools, tmp));
    } finally {
      if (opts.keep) progress(`kept ${tmp}`);
      else fs.rmSync(tmp, { recursive: true, force: true });
    }
    process.stdout.write(`\n${formatSize(results.at(-1)!, opts)}\n`);
  }
  const machine = { cpus: os.availableParallelism(), cpuModel: os.cpus()[0]?.model ?? 'unknown', node: process.version, loadavgEnd: os.loadavg() };
  if (opts.readme) writeReadmeFigures(opts.readme, results, opts, machine, tools.npmVersion);
  if (opts.json) {
    const json = { version: 1, startedAt: new Date().toISOString(), machine, peers: PEER_VERSIONS, npm: tools.npmVersion, params: opts, results };
    fs.writeFileSync(opts.json, `${JSON.stringify(json, null, 2)}\n`);
  }
}

async function measureSize(packages: number, opts: Options, tools: PeerTools, tmp: string): Promise<SizeResult> {
  progress(`${packages} packages: generating and npm install`);
  const source = generateMonorepo(path.join(tmp, 'source'), { packages, files: opts.files, layers: opts.layers, seed: opts.seed }, tools);
  const copy = (name: string) => copyMonorepo(source, path.join(tmp, name));
  const drivers: Driver[] = [
    kilnDriver(copy('kiln'), tmp),
    ...(opts.tools.includes('turbo') ? [turboDriver(copy('turbo'), tmp, tools)] : []),
    ...(opts.tools.includes('nx') ? [nxDriver(copy('nx'), tmp, tools)] : []),
  ];
  const samples = new Map<string, number[]>();
  const ran = new Map<string, number[]>();
  const record = (id: string, tool: string, ms: number, tasks?: number) => {
    const key = `${id}/${tool}`;
    samples.set(key, [...(samples.get(key) ?? []), ms]);
    if (tasks !== undefined) ran.set(key, [...(ran.get(key) ?? []), tasks]);
    progress(`${packages}: ${tool} ${id}: ${ms.toFixed(0)} ms${tasks !== undefined ? `, ${tasks} tasks ran` : ''}`);
  };
  const rand = mulberry32(opts.seed);
  const ids = source.nodes.map((n) => n.id);

  // Cold: every tool forgets everything, then builds, in a shuffled order per run.
  for (let i = 0; i < opts.coldRuns; i++) {
    for (const d of shuffle(drivers, rand)) {
      d.reset();
      const r = await d.build('cold build');
      expect(d, 'cold build', r.ran, ids.length);
      record('cold', d.name, r.ms, r.ran);
    }
  }
  // All three built the same bytes (the commands are deterministic): they are doing the same work.
  const kilnOut = readOutputs(drivers[0]!.ws);
  for (const d of drivers.slice(1)) {
    const out = readOutputs(d.ws);
    const differing = ids.filter((id) => !kilnOut.get(id)?.equals(out.get(id) ?? Buffer.alloc(0)));
    if (differing.length > 0) throw new Error(`${d.name}'s outputs differ from kiln's, e.g. ${differing[0]}`);
  }
  // Unmeasured: files written just before are too recent for stat memos to trust (racy mtimes).
  for (const d of drivers) await d.build('warm-up no-op');

  const leaf = leaves(source.nodes).at(-1)!;
  const root = source.nodes.find((n) => n.layer === 0)!;
  const dependents = dependentsClosure(source.nodes, root.id);
  // The floor and the leaf's script alone run in their own copy, outputs included, touching no tool's.
  const baseline = copyMonorepo(drivers[0]!.ws, path.join(tmp, 'baseline'));
  const expectedFiles = packages * (opts.files + 1) + 5; // sources and package.json per package; root package.json, lockfile, turbo.json, nx.json, .gitignore
  let edits = 0;

  const buildStep = (d: Driver, id: Exclude<BuildId, 'cold'>) => async () => {
    const before = id === 'restore' || id === 'fresh' ? readOutputs(d.ws) : undefined;
    if (id === 'warm' || id === 'warmLeaf') await d.prepareWarm();
    if (id === 'leaf' || id === 'warmLeaf') editSource(d.ws, leaf.id, `leaf ${edits++}`);
    if (id === 'root') editSource(d.ws, root.id, `root ${edits++}`);
    if (id === 'restore') removeOutputs(d.ws);
    if (id === 'fresh') d.freshClone();
    const r = await (id === 'warm' || id === 'warmLeaf' ? d.warm(BUILDS[id], id === 'warm') : d.build(BUILDS[id]));
    const want = {
      noop: new Set<string>(), warm: new Set<string>(), restore: new Set<string>(), fresh: new Set<string>(),
      leaf: new Set([leaf.id]), warmLeaf: new Set([leaf.id]), root: dependents,
    }[id];
    expect(d, BUILDS[id], r.ran, want.size, r.ranIds, want);
    if (before) {
      const after = readOutputs(d.ws);
      const wrong = ids.filter((i) => !before.get(i)?.equals(after.get(i) ?? Buffer.alloc(0)));
      if (wrong.length > 0) throw new Error(`${d.name} ${id}: ${wrong.length} outputs differ, e.g. ${wrong[0]}`);
    }
    record(id, d.name, r.ms, r.ran);
  };
  // The same bytes a restore writes, as one tar archive: what extracting them costs without any cache logic.
  const outputDirs = ids.map((id) => `${nodeDir(id)}/${OUTPUT_DIR}`);
  const outputsTar = path.join(tmp, 'outputs.tar');
  ok('tar -c', await run('tar', ['-cf', outputsTar, ...outputDirs], { cwd: baseline.dir, env: kilnEnv() }));
  const floorStep = (id: 'floor' | 'statFloor', extra: string[]) => async () => {
    const r = ok(id, await run(process.execPath, [FLOOR, baseline.dir, ...extra], { env: kilnEnv() }));
    if (!r.stdout.startsWith(`files=${expectedFiles} `)) throw new Error(`${id} saw '${r.stdout.trim()}', expected files=${expectedFiles}`);
    record(id, 'baseline', r.ms);
  };
  const baselineSteps = [
    floorStep('floor', []),
    floorStep('statFloor', ['--stat-only']),
    async () => {
      removeOutputs(baseline);
      record('untar', 'baseline', ok('tar -x', await run('tar', ['-xf', outputsTar], { cwd: baseline.dir, env: kilnEnv() })).ms);
    },
    async () => {
      const cwd = path.join(baseline.dir, nodeDir(leaf.id));
      record('leafWork', 'baseline', ok("leaf's script", await run('/bin/sh', ['-c', command(leaf)], { cwd, env: kilnEnv() })).ms);
    },
    async () => record('node', 'baseline', ok('node -e 0', await run(process.execPath, ['-e', '0'], { env: kilnEnv() })).ms),
  ];
  try {
    for (let round = 0; round < opts.runs; round++) {
      progress(`${packages}: round ${round + 1}/${opts.runs}`);
      const steps = [...drivers.flatMap((d) => opts.scenarios.map((id) => buildStep(d, id))), ...baselineSteps];
      for (const step of shuffle(steps, rand)) await step();
    }
  } finally {
    for (const d of drivers) await d.stopWarm();
  }

  const stats = (key: string): ToolResult | undefined => {
    const s = samples.get(key);
    return s && { ...summarize(s), ran: ran.get(key) ?? [] };
  };
  const measured = (['cold', ...opts.scenarios] as BuildId[]).filter((id, i, all) => all.indexOf(id) === i);
  const builds = Object.fromEntries(
    measured.map((id) => [id, Object.fromEntries(opts.tools.map((t) => [t, stats(`${id}/${t}`)!]))]),
  ) as SizeResult['builds'];
  const baselines = Object.fromEntries((Object.keys(BASELINES) as BaselineId[]).map((id) => [id, summarize(samples.get(`${id}/baseline`)!)])) as SizeResult['baselines'];
  return { packages, layers: source.layers, rootDependents: dependents.size, builds, baselines, bars: bars(packages, builds, baselines) };
}

/**
 * The issue's bars, at this size, for the scenarios measured. "No-op >= 5x
 * faster" compares each tool at its fastest: kiln and nx with their daemons,
 * turbo (no daemon for run) as is; the floor bar is kiln without its daemon.
 */
function bars(packages: number, b: SizeResult['builds'], base: SizeResult['baselines']): Bar[] {
  const bar = (name: string, value: number, limit: number, unit: string): Bar => ({ name, value, limit, unit, pass: value <= limit });
  const out: Bar[] = [];
  const fastest = (t: ToolName) => Math.min(b.noop?.[t]?.median ?? Infinity, b.warm?.[t]?.median ?? Infinity);
  const has = (t: ToolName) => (b.noop ?? b.cold)?.[t] !== undefined;
  if (b.noop || b.warm) {
    for (const peer of ['turbo', 'nx'] as const) {
      if (has(peer)) out.push(bar(`no-op, each at its fastest: kiln / ${peer} (>= 5x faster)`, fastest('kiln') / fastest(peer), 0.2, 'x'));
    }
  }
  if (b.noop) out.push(bar('no-op without daemon: kiln / floor', b.noop.kiln.median / base.floor.median, 1.5, 'x'));
  if (b.leaf) out.push(bar("one leaf: kiln - (floor + the leaf's script)", b.leaf.kiln.median - base.floor.median - base.leafWork.median, 100, 'ms'));
  if (b.warmLeaf) {
    out.push(bar("one leaf, daemon running: kiln - (floor + the leaf's script)", b.warmLeaf.kiln.median - base.floor.median - base.leafWork.median, 100, 'ms'));
  }
  if (b.root && (has('turbo') || has('nx'))) {
    const peerRan = Math.min(...(b.root.turbo?.ran ?? []), ...(b.root.nx?.ran ?? []));
    out.push(bar('one root: tasks kiln ran beyond the fewest a peer ran', Math.max(...b.root.kiln.ran) - peerRan, 0, 'tasks'));
  }
  if (b.noop) out.push(bar('no-op without daemon: kiln / stat-only floor', b.noop.kiln.median / base.statFloor.median, 1.3, 'x'));
  if (b.restore) out.push(bar('restore: kiln / tar -x of the same bytes', b.restore.kiln.median / base.untar.median, 2, 'x'));
  if (!has('turbo')) return out;
  // Fresh-process speed: ahead of turbo without a daemon.
  const vsTurbo = (id: BuildId) => b[id]!.kiln.median / b[id]!.turbo!.median;
  if (b.noop) out.push(bar('no-op without daemon: kiln / turbo (faster)', vsTurbo('noop'), 1, 'x'));
  if (b.leaf) out.push(bar('one leaf without daemon: kiln / turbo (faster)', vsTurbo('leaf'), 1, 'x'));
  if (b.restore) out.push(bar('restore: kiln / turbo', vsTurbo('restore'), 0.6, 'x'));
  if (b.fresh) out.push(bar('fresh clone, warm cache: kiln / turbo', vsTurbo('fresh'), 0.8, 'x'));
  if (b.warm && b.noop) {
    const times = packages >= 1000 ? 8 : 4;
    out.push(bar(`no-op: kiln's daemon / turbo (>= ${times}x faster)`, b.warm.kiln.median / b.noop.turbo!.median, 1 / times, 'x'));
  }
  return out;
}

/** A build that did not run what the scenario says is an error for kiln (exact ids) and a warning for a peer (count only). */
function expect(d: Driver, label: string, ran: number, want: number, ranIds?: Set<string>, wantIds?: Set<string>): void {
  if (d.name === 'kiln') {
    const extra = ranIds && wantIds ? [...ranIds].filter((id) => !wantIds.has(id)) : [];
    const missing = ranIds && wantIds ? [...wantIds].filter((id) => !ranIds.has(id)) : [];
    if (ran !== want || extra.length > 0 || missing.length > 0) {
      throw new Error(`kiln ${label}: ran ${ran} tasks, expected ${want} (extra: ${extra.slice(0, 5).join(', ')}; missing: ${missing.slice(0, 5).join(', ')})`);
    }
  } else if (ran !== want) {
    progress(`note: ${d.name} ${label} ran ${ran} tasks; the true set has ${want}`);
  }
}

function formatSize(r: SizeResult, opts: Options): string {
  const ms = (s: Stats | undefined) => (s ? `${s.median.toFixed(0)} (${s.min.toFixed(0)}-${s.max.toFixed(0)})` : '');
  const floor = r.baselines.floor.median;
  const peers = opts.tools.filter((t) => t !== 'kiln');
  const header = ['scenario', 'kiln ms (min-max)', ...peers.map((p) => `${p} ms`), `tasks ${opts.tools.map((t) => t[0]).join('/')}`, ...peers.map((p) => `kiln/${p}`), 'kiln/floor'];
  const rows = (Object.keys(BUILDS) as BuildId[]).filter((id) => r.builds[id]).map((id) => {
    const by = r.builds[id]!;
    return [
      BUILDS[id], ms(by.kiln), ...peers.map((p) => ms(by[p])),
      opts.tools.map((t) => String(Math.max(...(by[t]?.ran ?? [0])))).join('/'),
      ...peers.map((p) => (by.kiln.median / by[p]!.median).toFixed(3)), (by.kiln.median / floor).toFixed(2),
    ];
  });
  for (const id of Object.keys(BASELINES) as BaselineId[]) rows.push([BASELINES[id], ms(r.baselines[id]), ...header.slice(2).map(() => '')]);
  const versions = peers.map((p) => `${p} ${PEER_VERSIONS[p]}`).join(' vs ');
  return [
    `kiln${versions ? ` vs ${versions}` : ''} (daemons off but in the resident-process row): ${r.packages} packages x ${opts.files} files, ${r.layers} layers, ` +
      `seed ${opts.seed}; ${opts.runs} runs (cold: ${opts.coldRuns}); root change: ${r.rootDependents} true dependents; ` +
      `${os.availableParallelism()} cpus, node ${process.version}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
    '',
    ...textTable(header, rows),
    '',
    ...r.bars.map(formatBar),
  ].join('\n');
}

const FIGURES_BEGIN = '<!-- peers-figures:begin (written by bench/peers/run.ts --readme; edits here are overwritten) -->';
const FIGURES_END = '<!-- peers-figures:end -->';

/** Replaces the figures between README's markers with this run's tables: one command regenerates them. */
function writeReadmeFigures(file: string, results: SizeResult[], opts: Options, machine: { cpus: number; cpuModel: string; node: string }, npmVersion: string): void {
  const text = fs.readFileSync(file, 'utf8');
  const begin = text.indexOf(FIGURES_BEGIN);
  const end = text.indexOf(FIGURES_END);
  if (begin < 0 || end < begin) throw new Error(`--readme: ${file} has no ${FIGURES_BEGIN} ... ${FIGURES_END} block`);
  const sizes = results.map((r) => r.packages.toLocaleString('en')).join(' and ');
  const block = [
    FIGURES_BEGIN,
    '',
    `Figures of one run (${new Date().toISOString().slice(0, 10)}) at ${sizes} packages, made by`,
    '`npm run bench:peers -- ' + commandLine(process.argv.slice(2), file) + '`:',
    `${machine.cpus} cpus (${machine.cpuModel}), node ${machine.node}, npm ${npmVersion}; ${opts.tools.filter((t) => t !== 'kiln').map((t) => `${t} ${PEER_VERSIONS[t]}`).join(', ') || 'no peer'}.`,
    `Each figure is a median of ${opts.runs} runs (cold: ${opts.coldRuns}) in milliseconds on this shared machine; the`,
    'ratios compare tools measured in the same run and are the figures to quote.',
    '',
    ...results.flatMap((r) => ['```', formatSize(r, opts), '```', '']),
    FIGURES_END,
  ].join('\n');
  fs.writeFileSync(file, text.slice(0, begin) + block + text.slice(end + FIGURES_END.length));
  progress(`wrote the figures into ${file}`);
}

/** This run's options as a reader would repeat them: no --json file, the README by its name. */
function commandLine(args: string[], readme: string): string {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const flag = arg.split('=')[0]!;
    if ((flag === '--json' || flag === '--readme') && !arg.includes('=')) i++; // its value is the next argument
    if (flag === '--json') continue;
    out.push(flag === '--readme' ? `--readme ${path.basename(readme)}` : arg);
  }
  return out.join(' ');
}

function progress(message: string): void {
  process.stderr.write(`[peers] ${message}\n`);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`peers: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
