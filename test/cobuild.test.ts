// `kiln build --cobuild ID`: several agents (separate checkouts, separate
// local caches) build one graph together, claiming nodes through a real
// redis-server and sharing results through a real `kiln cache serve`.
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../engine/pipeline/summary.js';
import { KILN_MAIN, statuses, tempDir, writeFiles } from './kiln.js';
import { startKilnServer, startRedis, type RunningServer } from './servers/start.js';

const TOKEN = 'cobuild-token';
let cache: RunningServer;
let redis: RunningServer;
beforeAll(async () => {
  [cache, redis] = await Promise.all([startKilnServer({ KILN_SERVE_TOKENS: TOKEN }), startRedis()]);
});
afterAll(async () => {
  await Promise.all([cache.stop(), redis.stop()]);
});

/** Eight roots, two nodes over four roots each, one over those; `slow` (if named) sleeps long and marks who runs it. */
function buildFile(opts: { slow?: string; source?: string } = {}): string {
  const node = (id: string, deps: string[]) => {
    const cat = deps.map((d) => `out/${d}.txt`).join(' ');
    const slow = id === opts.slow ? 'echo $PPID >> "$MARK"; sleep 4; ' : 'sleep 0.3; ';
    // Each run writes its node and its agent (the command's parent) to COUNTER.
    return `  ${id}:\n    rule: run\n    deps: [${deps.join(', ')}]\n    env: [COUNTER, MARK]\n    inputs: [src.txt]\n    outputs: [out/${id}.txt]\n    cmd: 'echo ${id} $PPID >> "$COUNTER"; ${slow}mkdir -p out; { echo ${id}; cat src.txt ${cat}; } > out/${id}.txt'\n`;
  };
  const roots = Array.from({ length: 8 }, (_, i) => `r${i}`);
  return `nodes:\n${[...roots.map((r) => node(r, [])), node('m0', roots.slice(0, 4)), node('m1', roots.slice(4)), node('all', ['m0', 'm1'])].join('')}`;
}
const ALL = ['all', 'm0', 'm1', 'r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7'];

interface Agent {
  dir: string;
  pid: number;
  run: Promise<{ exitCode: number; stdout: string; stderr: string; summary: RunSummary | undefined }>;
}

function agent(file: string, shared: { counter: string; mark: string }, id: string, extra: Record<string, string> = {}, source = 'v1\n'): Agent {
  const dir = tempDir('kiln-cobuild-agent-');
  writeFiles(dir, { 'kiln.yaml': file, 'src.txt': source });
  const summaryFile = path.join(tempDir('kiln-cobuild-summary-'), 'summary.json');
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    CI: 'true',
    KILN_DAEMON: '0',
    COUNTER: shared.counter,
    MARK: shared.mark,
    KILN_CACHE_DIR: tempDir('kiln-cobuild-cache-'),
    KILN_REMOTE_CACHE: cache.url,
    KILN_REMOTE_TOKEN: TOKEN,
    KILN_REDIS_URL: redis.url,
    KILN_COBUILD_LEASE_SECONDS: '3',
    // A loaded test machine must not make an agent give up on the remote (which would rightly build more than once).
    KILN_REMOTE_RESPONSE_TIMEOUT: '60',
    KILN_REMOTE_TIMEOUT: '120',
    ...extra,
  };
  const child = execa('node', [KILN_MAIN, 'build', '--cobuild', id, '--summary', summaryFile], { cwd: dir, env, extendEnv: false, reject: false });
  const run = child.then((r) => ({
    exitCode: r.exitCode ?? -1,
    stdout: r.stdout,
    stderr: r.stderr,
    summary: fs.existsSync(summaryFile) ? (JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as RunSummary) : undefined,
  }));
  return { dir, pid: child.pid!, run };
}

function shared(): { counter: string; mark: string } {
  const dir = tempDir('kiln-cobuild-shared-');
  return { counter: path.join(dir, 'runs'), mark: path.join(dir, 'slow-pids') };
}
const lines = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);
/** The nodes that ran, one entry per run (COUNTER lines are `node agent-pid`). */
const ranNodes = (file: string) => lines(file).map((l) => l.split(' ')[0]!);
const output = (dir: string) => fs.readFileSync(path.join(dir, 'out', 'all.txt'), 'utf8');

describe('kiln build --cobuild', () => {
  it('four agents build every node exactly once between them, and each ends with the bytes of one build', async () => {
    const s = shared();
    const file = buildFile();
    const agents = ['a', 'b', 'c', 'd'].map(() => agent(file, s, 'run-1'));
    const results = await Promise.all(agents.map((a) => a.run));
    for (const r of results) expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(ranNodes(s.counter).sort()).toEqual(ALL);
    for (const a of agents) expect(output(a.dir)).toBe(output(agents[0]!.dir));
    expect(output(agents[0]!.dir)).toContain('all\nv1\nm0\nv1\nr0\nv1\n');
    const built = results.flatMap((r) => statuses(r.summary!).built).sort();
    expect(built).toEqual(ALL);
    // The work was shared: more than one agent built something.
    expect(results.filter((r) => statuses(r.summary!).built.length > 0).length).toBeGreaterThan(1);
    // Every agent's summary names, for each node, the agent whose run made it, and they all agree.
    const madeBy = (r: (typeof results)[number]) => Object.fromEntries(r.summary!.nodes.map((n) => [n.id, n.agent]));
    for (const r of results) expect(madeBy(r)).toEqual(madeBy(results[0]!));
    expect(new Set(Object.values(madeBy(results[0]!))).size).toBeGreaterThan(1);

    // One trace of the four agents: a process each, and each node built once among them.
    const trace = await execa('node', [KILN_MAIN, 'trace', '--cobuild', 'run-1'], { env: { ...process.env, KILN_REDIS_URL: redis.url }, reject: false });
    expect(trace.exitCode, trace.stderr).toBe(0);
    const events = (JSON.parse(trace.stdout) as { traceEvents: { name: string; ph: string; pid: number; cat?: string }[] }).traceEvents;
    expect(events.filter((e) => e.name === 'process_name').map((e) => e.pid).sort()).toEqual([1, 2, 3, 4]);
    const builtSpans = events.filter((e) => e.ph === 'X' && e.cat === 'built').map((e) => e.name).sort();
    expect(builtSpans).toEqual(ALL);

    // And each agent's history says it too.
    const history = await execa('node', [KILN_MAIN, 'history', 'last', '--json'], { cwd: agents[0]!.dir, reject: false });
    const rows = (JSON.parse(history.stdout) as { nodes: { node: string; agent: string | null }[] }).nodes;
    expect(Object.fromEntries(rows.map((n) => [n.node, n.agent]))).toEqual(madeBy(results[0]!));
  }, 60_000);

  it('an agent killed (-9) mid-node loses its lease, and another builds that node; the others finish with the same bytes', async () => {
    const s = shared();
    const file = buildFile({ slow: 'm1' });
    const agents = ['a', 'b', 'c', 'd'].map(() => agent(file, s, 'run-2'));
    // The agent running m1 is its command's parent.
    let victim: number | undefined;
    for (let i = 0; i < 200 && victim === undefined; i++) {
      await sleep(50);
      victim = lines(s.mark).map(Number)[0];
    }
    expect(agents.map((a) => a.pid)).toContain(victim);
    process.kill(victim!, 'SIGKILL');
    const survivors = agents.filter((a) => a.pid !== victim);
    const results = await Promise.all(survivors.map((a) => a.run));
    for (const r of results) expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const runs = lines(s.counter).map((l) => ({ id: l.split(' ')[0]!, agent: Number(l.split(' ')[1]) }));
    const times = (id: string) => runs.filter((r) => r.id === id).length;
    // Every node ran once, but those the killed agent had started and not seen through (m1 at least): twice, once by it.
    expect(times('m1'), results.map((r) => r.stdout + r.stderr).join('\n----\n')).toBe(2);
    for (const id of ALL) {
      expect([1, 2], id).toContain(times(id));
      if (times(id) === 2) expect(runs.filter((r) => r.id === id && r.agent === victim), id).toHaveLength(1);
    }
    for (const a of survivors) expect(output(a.dir)).toBe(output(survivors[0]!.dir));
    expect(results.some((r) => r.stdout.includes('built here: the agent that claimed it stopped'))).toBe(true);
  }, 60_000);

  it('agents at another commit never take each other’s results; without Redis an agent builds alone with one warning', async () => {
    const s = shared();
    const file = buildFile();
    const [old, next] = [agent(file, s, 'run-3', {}, 'v1\n'), agent(file, s, 'run-3', {}, 'v2\n')];
    const [a, b] = await Promise.all([old.run, next.run]);
    expect(a.exitCode, a.stderr).toBe(0);
    expect(b.exitCode, b.stderr).toBe(0);
    expect(output(old.dir)).toContain('v1');
    expect(output(old.dir)).not.toContain('v2');
    expect(output(next.dir)).toContain('v2');
    expect(output(next.dir)).not.toContain('v1');

    const lonely = agent(file, shared(), 'run-4', { KILN_REDIS_URL: 'redis://127.0.0.1:1' });
    const r = await lonely.run;
    expect(r.exitCode, r.stderr).toBe(0);
    expect((r.stdout + r.stderr).match(/cobuild: cannot reach Redis at redis:\/\/127\.0\.0\.1:1/g)).toHaveLength(1);
    expect(statuses(r.summary!).built.length + statuses(r.summary!).cached.length).toBe(11);
  }, 60_000);

  it('an agent stalled past its lease loses the node to another; the first result in the remote cache stands, and the late one says its bytes differ', async () => {
    const s = shared();
    // Not deterministic: each run writes its own agent's pid.
    const file = `nodes:\n  n:\n    rule: run\n    env: [COUNTER, MARK]\n    outputs: [out/n.txt]\n    cmd: 'echo $PPID >> "$MARK"; echo n $PPID >> "$COUNTER"; sleep 1; mkdir -p out; echo $PPID > out/n.txt'\n`;
    const a = agent(file, s, 'run-5', { KILN_COBUILD_LEASE_SECONDS: '1' });
    for (let i = 0; i < 200 && lines(s.mark).length === 0; i++) await sleep(25);
    expect(lines(s.mark)).toEqual([String(a.pid)]);
    process.kill(a.pid, 'SIGSTOP');
    let first = '';
    try {
      const b = agent(file, s, 'run-5', { KILN_COBUILD_LEASE_SECONDS: '1' });
      const rb = await b.run;
      expect(rb.exitCode, rb.stdout + rb.stderr).toBe(0);
      expect(rb.stdout).toContain('built here: the agent that claimed it stopped');
      first = fs.readFileSync(path.join(b.dir, 'out', 'n.txt'), 'utf8');
      expect(first).toBe(`${b.pid}\n`);
    } finally {
      process.kill(a.pid, 'SIGCONT');
    }
    const ra = await a.run;
    expect(ra.exitCode, ra.stdout + ra.stderr).toBe(0);
    expect(ra.stdout + ra.stderr).toContain("n: another agent's result for the same key is in the remote cache and its outputs differ from this one's: the first stays");
    // A third agent gets the first result.
    const c = agent(file, s, 'run-6');
    const rc = await c.run;
    expect(rc.exitCode).toBe(0);
    expect(statuses(rc.summary!).cached).toEqual(['n']);
    expect(fs.readFileSync(path.join(c.dir, 'out', 'n.txt'), 'utf8')).toBe(first);
  }, 60_000);

  it('takes its Redis from the root build file (cobuild: {redis: URL}), whose mistakes are located', async () => {
    const s = shared();
    const file = `cobuild:\n  redis: ${redis.url}\n${buildFile()}`;
    const agents = ['a', 'b'].map(() => agent(file, s, 'run-7', { KILN_REDIS_URL: '' }));
    const results = await Promise.all(agents.map((a) => a.run));
    for (const r of results) expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(ranNodes(s.counter).sort()).toEqual(ALL);
    // kiln trace finds the same Redis there: one process per agent.
    const noRedisEnv = { ...process.env, KILN_REDIS_URL: '' };
    const trace = await execa('node', [KILN_MAIN, 'trace', '--cobuild', 'run-7'], { cwd: agents[0]!.dir, env: noRedisEnv, reject: false });
    expect(trace.exitCode, trace.stderr).toBe(0);
    const pids = (JSON.parse(trace.stdout) as { traceEvents: { name: string; pid: number }[] }).traceEvents.filter((e) => e.name === 'process_name').map((e) => e.pid);
    expect(pids.sort()).toEqual([1, 2]);
    const wrong = await execa('node', [KILN_MAIN, 'trace', '--cobuild', 'run-7', '--redis', 'http://127.0.0.1:6379'], { cwd: agents[0]!.dir, env: noRedisEnv, reject: false });
    expect([wrong.exitCode, wrong.stderr.trim()]).toEqual([2, 'kiln: trace: --redis expects a redis:// or rediss:// URL']);

    const dir = tempDir('kiln-cobuild-bad-');
    writeFiles(dir, { 'kiln.yaml': `cobuild:\n  redis: "redis://:secret@host:6379"\n  url: x\n${buildFile()}` });
    const bad = await execa('node', [KILN_MAIN, 'graph'], { cwd: dir, reject: false });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('kiln.yaml:2:10: cobuild redis URL must not contain credentials');
    expect(bad.stderr).toContain("kiln.yaml:3:3: unknown key 'url' in cobuild");
  }, 60_000);

  it('Redis going away mid-build: each agent says so once and builds what it still needs; nothing hangs, the bytes are one build\'s', async () => {
    const own = await startRedis();
    try {
      const s = shared();
      const file = buildFile({ slow: 'm0' });
      const agents = ['a', 'b'].map(() => agent(file, s, 'run-8', { KILN_REDIS_URL: own.url }));
      for (let i = 0; i < 200 && lines(s.mark).length === 0; i++) await sleep(50);
      expect(lines(s.mark).length).toBe(1);
      await own.kill();
      const results = await Promise.all(agents.map((a) => a.run));
      for (const r of results) {
        expect(r.exitCode, r.stdout + r.stderr).toBe(0);
        expect((r.stdout + r.stderr).match(/cobuild: Redis failed/g) ?? []).toHaveLength(1);
      }
      for (const a of agents) expect(output(a.dir)).toBe(output(agents[0]!.dir));
      expect(new Set(ranNodes(s.counter))).toEqual(new Set(ALL));
    } finally {
      await own.stop();
    }
  }, 60_000);
});
