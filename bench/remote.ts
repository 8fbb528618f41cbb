// What a full restore from a remote cache costs, next to a restore from the
// local cache and to `tar -x` of the same bytes, in one run on one generated
// workspace. Each remote is populated once by a machine-A build; every
// measured machine-B build starts with an empty local cache.
//   node dist/bench/remote.js [--nodes 1000] [--files 10] [--runs 3] [--layers 10]
//                             [--seed 1] [--jobs N] [--json FILE] [--cpu-prof DIR] [--keep]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { generateWorkspace, nodeDir, OUTPUT_DIR, positiveInt, WORKSPACE_OPTIONS, type GeneratedWorkspace } from './generate.js';
import { build, expectCacheSource, expectStatuses, requireKiln, type BuildTarget } from './kiln.js';
import { copySources, differingOutputs, readOutputs, removeOutputs, removeState } from './mutate.js';
import { mulberry32, shuffle } from './prng.js';
import { outputTail, run } from '../engine/proc.js';
import { textTable } from '../engine/report/text-table.js';
import { formatBar, type Bar } from './report.js';
import { startKilnServer, startNginx, startTurbo, type RunningServer } from './servers.js';
import { summarize, type Stats } from '../engine/bench-command/stats.js';

const TOKEN = 'kiln-bench-token';
const TEAM = 'bench';
/** The bar: a full restore over loopback costs at most this many times a local restore. */
const REMOTE_OVER_LOCAL_LIMIT = 3;

interface Remote {
  id: string;
  title: string;
  start(home: string): Promise<RunningServer>;
  env(s: RunningServer): Record<string, string>;
}

const REMOTES: Remote[] = [
  {
    id: 'kiln',
    title: 'kiln cache serve (bazel)',
    start: (home) => startKilnServer({ KILN_SERVE_TOKENS: TOKEN }, { home }),
    env: (s) => ({ KILN_REMOTE_CACHE: s.url, KILN_REMOTE_TOKEN: TOKEN }),
  },
  {
    id: 'nginx',
    title: 'nginx WebDAV (bazel)',
    start: (home) => startNginx({ home }),
    env: (s) => ({ KILN_REMOTE_CACHE: s.url }),
  },
  {
    id: 'turbo',
    title: 'turborepo-remote-cache (turbo)',
    start: (home) => startTurbo(TOKEN, {}, { home }),
    env: (s) => ({ KILN_REMOTE_CACHE: s.url, KILN_REMOTE_TOKEN: TOKEN, KILN_REMOTE_PROTOCOL: 'turbo', KILN_REMOTE_TEAM: TEAM }),
  },
];

type Options = ReturnType<typeof parseOptions>;

function parseOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...WORKSPACE_OPTIONS,
      runs: { type: 'string', default: '3' },
      jobs: { type: 'string' },
      json: { type: 'string' },
      'cpu-prof': { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  });
  return {
    nodes: positiveInt('nodes', values.nodes),
    files: positiveInt('files', values.files),
    layers: positiveInt('layers', values.layers),
    seed: positiveInt('seed', values.seed),
    runs: positiveInt('runs', values.runs),
    jobs: values.jobs ? positiveInt('jobs', values.jobs) : undefined,
    json: values.json,
    cpuProf: values['cpu-prof'] ? path.resolve(values['cpu-prof']) : undefined,
    keep: values.keep,
  };
}

interface Row extends Stats {
  id: string;
  title: string;
  /** Bytes the run transferred (remote: the summary's bytesDown; tar: the tarball). */
  bytes: number | null;
}

interface Results {
  version: 1;
  startedAt: string;
  machine: { cpus: number; node: string; loadavgStart: number[]; loadavgEnd: number[] };
  params: { nodes: number; files: number; layers: number; seed: number; runs: number; jobs: number | null };
  /** Bytes of all nodes' outputs (what every restore writes). */
  outputBytes: number;
  rows: Row[];
  bars: Bar[];
}

async function main(argv: string[]): Promise<void> {
  const opts = parseOptions(argv);
  requireKiln();
  const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-bench-remote-')));
  const startedAt = new Date().toISOString();
  const loadavgStart = os.loadavg();
  const servers = new Map<string, RunningServer>();
  let results: Results;
  try {
    const ws = generateWorkspace(path.join(tmp, 'a'), { nodes: opts.nodes, files: opts.files, layers: opts.layers, seed: opts.seed });
    for (const r of REMOTES) {
      const home = path.join(tmp, `server-${r.id}`);
      fs.mkdirSync(home);
      servers.set(r.id, await r.start(home));
      progress(`${r.title}: ${servers.get(r.id)!.url}`);
    }
    const bench = new RemoteBench(ws, tmp, opts, servers);
    await bench.populate();
    const samples = await bench.measure();
    if (opts.cpuProf) await bench.profile(opts.cpuProf);
    results = bench.results(samples, startedAt, loadavgStart);
  } finally {
    for (const s of servers.values()) await s.stop();
    if (opts.keep) progress(`kept ${tmp}`);
    else fs.rmSync(tmp, { recursive: true, force: true });
  }
  process.stdout.write(`\n${formatResults(results)}\n`);
  if (opts.json) {
    fs.writeFileSync(opts.json, `${JSON.stringify(results, null, 2)}\n`);
    progress(`results written to ${opts.json}`);
  }
}

type Samples = Map<string, { ms: number[]; bytes: number | null }>;

class RemoteBench {
  private readonly ids: string[];
  private reference = new Map<string, Buffer | null>();
  private readonly local: BuildTarget;
  private readonly tarball: string;

  constructor(
    private readonly ws: GeneratedWorkspace,
    private readonly tmp: string,
    private readonly opts: Options,
    private readonly servers: Map<string, RunningServer>,
  ) {
    this.ids = ws.nodes.map((n) => n.id);
    this.local = this.target(ws.dir, 'a', {});
    this.tarball = path.join(tmp, 'outputs.tar');
  }

  private target(dir: string, name: string, env: Record<string, string>): BuildTarget {
    return {
      dir,
      cacheDir: path.join(this.tmp, `cache-${name}`),
      summaryFile: path.join(this.tmp, `summary-${name}.json`),
      env,
      ...(this.opts.jobs ? { jobs: this.opts.jobs } : {}),
    };
  }

  /**
   * Machine A, once per remote: a cold build from an empty local cache that
   * uploads every node. The first one's outputs are the reference every
   * restore is compared with, and its checkout and full local cache serve the
   * local restore; the tarball for `tar -x` is made from them.
   */
  async populate(): Promise<void> {
    for (const [i, r] of REMOTES.entries()) {
      const label = `machine A (${r.title})`;
      const dir = i === 0 ? this.ws.dir : copySources(this.ws, path.join(this.tmp, `a-${r.id}`)).dir;
      const t = i === 0 ? { ...this.local, env: r.env(this.server(r)) } : this.target(dir, `a-${r.id}`, r.env(this.server(r)));
      const res = await build(t, label);
      expectStatuses(label, res.summary, this.ids, new Set(this.ids));
      const remote = res.summary.remote;
      if (!remote || remote.uploads !== this.ids.length || remote.errors !== 0) {
        throw new Error(`${label}: expected ${this.ids.length} uploads and no error, got ${JSON.stringify(remote)}\n${outputTail(res.proc)}`);
      }
      const outputs = readOutputs({ ...this.ws, dir });
      if (i === 0) this.reference = outputs;
      else this.expectReference(label, outputs);
      progress(`${label}: built and uploaded ${remote.uploads} nodes (${mb(remote.bytesUp)} up) in ${sec(res.proc.ms)}`);
      if (i > 0) {
        fs.rmSync(dir, { recursive: true, force: true });
        fs.rmSync(t.cacheDir, { recursive: true, force: true });
      }
    }
    const dirs = this.ws.nodes.map((n) => `${nodeDir(n.id)}/${OUTPUT_DIR}`);
    const tar = await run('tar', ['-cf', this.tarball, '-C', this.ws.dir, ...dirs]);
    if (tar.code !== 0) throw new Error(`tar -cf failed\n${outputTail(tar)}`);
  }

  /** Every scenario once per round, in a shuffled order per round (a load spike hits one sample of several, not all of one). */
  async measure(): Promise<Samples> {
    const samples: Samples = new Map();
    const record = (id: string, ms: number, bytes: number | null) => {
      const s = samples.get(id) ?? { ms: [], bytes };
      s.ms.push(ms);
      samples.set(id, s);
      progress(`${titleOf(id)}: ${ms.toFixed(0)} ms`);
    };
    const steps: (() => Promise<void>)[] = [
      async () => record('local', await this.restoreLocal(), null),
      async () => record('tar', await this.untar(), fs.statSync(this.tarball).size),
      ...REMOTES.map((r) => async () => {
        const { ms, bytesDown } = await this.restoreRemote(r);
        record(r.id, ms, bytesDown);
      }),
    ];
    const rand = mulberry32(this.opts.seed);
    for (let round = 0; round < this.opts.runs; round++) {
      progress(`round ${round + 1}/${this.opts.runs}`);
      for (const step of shuffle(steps, rand)) await step();
    }
    return samples;
  }

  /** (a) Outputs and .kiln deleted, local cache full: every node restored from it. */
  private async restoreLocal(): Promise<number> {
    const label = 'restore from local cache';
    removeOutputs(this.ws);
    removeState(this.ws);
    const res = await build(this.local, label);
    expectStatuses(label, res.summary, this.ids, new Set());
    expectCacheSource(label, res.summary, 'local');
    this.expectReference(label, readOutputs(this.ws));
    return res.proc.ms;
  }

  /** (b) Machine B: a checkout without outputs or .kiln, an empty local cache, everything from the remote. */
  private async restoreRemote(r: Remote, nodeArgs: string[] = []): Promise<{ ms: number; bytesDown: number }> {
    const label = `restore from ${r.title}`;
    const dir = path.join(this.tmp, `b-${r.id}`);
    fs.rmSync(dir, { recursive: true, force: true });
    const b = copySources(this.ws, dir);
    const t = { ...this.target(dir, `b-${r.id}`, r.env(this.server(r))), nodeArgs };
    fs.rmSync(t.cacheDir, { recursive: true, force: true });
    const res = await build(t, label);
    expectStatuses(label, res.summary, this.ids, new Set());
    expectCacheSource(label, res.summary, 'remote');
    const remote = res.summary.remote;
    if (!remote || remote.hits !== this.ids.length || remote.misses !== 0 || remote.errors !== 0 || remote.uploads !== 0) {
      throw new Error(`${label}: expected ${this.ids.length} hits and nothing else, got ${JSON.stringify(remote)}\n${outputTail(res.proc)}`);
    }
    this.expectReference(label, readOutputs(b));
    return { ms: res.proc.ms, bytesDown: remote.bytesDown };
  }

  /** (c) The floor: `tar -x` of every node's output dir into a fresh dir. */
  private async untar(): Promise<number> {
    const dir = path.join(this.tmp, 'untar');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir);
    const res = await run('tar', ['-xf', this.tarball, '-C', dir]);
    if (res.code !== 0) throw new Error(`tar -xf failed\n${outputTail(res)}`);
    this.expectReference('tar -x', readOutputs({ ...this.ws, dir }));
    return res.ms;
  }

  /** One more machine-B build per remote under `node --cpu-prof`, not timed. */
  async profile(dir: string): Promise<void> {
    for (const r of REMOTES) {
      const out = path.join(dir, r.id);
      await this.restoreRemote(r, ['--cpu-prof', `--cpu-prof-dir=${out}`]);
      progress(`${r.title}: profile in ${out} (node dist/bench/profile.js ${out}/*.cpuprofile)`);
    }
  }

  private expectReference(label: string, got: Map<string, Buffer | null>): void {
    const wrong = differingOutputs(this.reference, got);
    if (wrong.length > 0) throw new Error(`${label}: ${wrong.length} nodes' outputs differ from machine A's, e.g. ${wrong[0]}`);
  }

  private server(r: Remote): RunningServer {
    return this.servers.get(r.id)!;
  }

  results(samples: Samples, startedAt: string, loadavgStart: number[]): Results {
    const rows: Row[] = ['local', 'tar', ...REMOTES.map((r) => r.id)].map((id) => {
      const s = samples.get(id)!;
      return { id, title: titleOf(id), ...summarize(s.ms), bytes: s.bytes };
    });
    const local = rows.find((r) => r.id === 'local')!.median;
    const bars = REMOTES.map((r): Bar => {
      const ratio = rows.find((row) => row.id === r.id)!.median / local;
      return {
        name: `${r.title}: full remote restore over loopback within ${REMOTE_OVER_LOCAL_LIMIT}x of the local restore`,
        value: ratio,
        limit: REMOTE_OVER_LOCAL_LIMIT,
        unit: 'x',
        pass: ratio <= REMOTE_OVER_LOCAL_LIMIT,
      };
    });
    const o = this.opts;
    return {
      version: 1,
      startedAt,
      machine: { cpus: os.availableParallelism(), node: process.version, loadavgStart, loadavgEnd: os.loadavg() },
      params: { nodes: o.nodes, files: o.files, layers: this.ws.layers, seed: o.seed, runs: o.runs, jobs: o.jobs ?? null },
      outputBytes: [...this.reference.values()].reduce((sum, b) => sum + (b?.length ?? 0), 0),
      rows,
      bars,
    };
  }
}

function titleOf(id: string): string {
  if (id === 'local') return 'restore from local cache';
  if (id === 'tar') return 'tar -x of the outputs';
  return `restore from ${REMOTES.find((r) => r.id === id)!.title}`;
}

function formatResults(r: Results): string {
  const row = (id: string) => r.rows.find((x) => x.id === id)!;
  const local = row('local').median;
  const tar = row('tar').median;
  const p = r.params;
  const header = ['scenario', 'median ms', 'min', 'max', 'x local', 'x tar -x', 'ms/node', 'bytes down'];
  const rows = r.rows.map((s) => [
    s.title,
    s.median.toFixed(0),
    s.min.toFixed(0),
    s.max.toFixed(0),
    (s.median / local).toFixed(2),
    (s.median / tar).toFixed(2),
    (s.median / p.nodes).toFixed(2),
    s.bytes === null ? '' : mb(s.bytes),
  ]);
  return [
    `kiln remote restore bench: ${p.nodes} nodes x ${p.files} files, ${p.layers} layers, seed ${p.seed}; ${p.runs} runs; ` +
      `jobs ${p.jobs ?? 'default'}; ${r.machine.cpus} cpus, node ${r.machine.node}, ` +
      `load ${r.machine.loadavgStart.map((l) => l.toFixed(2)).join(' ')} -> ${r.machine.loadavgEnd.map((l) => l.toFixed(2)).join(' ')}`,
    `outputs: ${p.nodes} files, ${mb(r.outputBytes)}; every remote run starts with an empty local cache`,
    '',
    ...textTable(header, rows),
    '',
    ...r.bars.map(formatBar),
  ].join('\n');
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(2)} MB`;
}

function sec(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function progress(message: string): void {
  process.stderr.write(`[bench remote] ${message}\n`);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`bench remote: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
