// `kiln build --shard I/N`: the agents of a CI matrix split one graph the
// same way, each builds its share and waits (off its workers) for the
// others' results in a real shared remote cache (`kiln cache serve`).
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shardAssignment } from '../engine/graph/shard.js';
import type { RunSummary } from '../engine/pipeline/summary.js';
import { KILN_MAIN, statuses, tempDir, writeFiles } from './kiln.js';
import { startKilnServer, type RunningServer } from './servers/start.js';

const TOKEN = 'shard-token';
let server: RunningServer;
beforeAll(async () => {
  server = await startKilnServer({ KILN_SERVE_TOKENS: TOKEN });
});
afterAll(() => server.stop());

/** Three roots, three nodes over two roots each, one over those: 7 nodes, three levels. */
function buildFile(failing?: string): string {
  const node = (id: string, deps: string[]) => {
    const cat = deps.map((d) => `out/${d}.txt`).join(' ');
    const fail = id === failing ? 'echo "broken $0" >&2; exit 3; ' : '';
    return `  ${id}:\n    rule: run\n    deps: [${deps.join(', ')}]\n    env: [COUNTER]\n    outputs: [out/${id}.txt]\n    cmd: 'echo ${id} >> "$COUNTER"; ${fail}sleep 0.3; mkdir -p out; { echo ${id}; ${cat ? `cat ${cat}; ` : ''}} > out/${id}.txt'\n`;
  };
  return `nodes:\n${[
    node('r0', []),
    node('r1', []),
    node('r2', []),
    node('m0', ['r0', 'r1']),
    node('m1', ['r1', 'r2']),
    node('m2', ['r2', 'r0']),
    node('all', ['m0', 'm1', 'm2']),
  ].join('')}`;
}

interface Agent {
  dir: string;
  run: Promise<{ exitCode: number; stdout: string; stderr: string; summary: RunSummary | undefined; ms: number }>;
}

/** Starts `kiln build --shard i/n` in a checkout of its own, with its own local cache. */
function agent(file: string, counter: string, args: string[]): Agent {
  const dir = tempDir('kiln-agent-');
  writeFiles(dir, { 'kiln.yaml': file });
  const summaryFile = path.join(tempDir('kiln-agent-summary-'), 'summary.json');
  const started = performance.now();
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    CI: 'true',
    KILN_DAEMON: '0',
    COUNTER: counter,
    KILN_CACHE_DIR: tempDir('kiln-agent-cache-'),
    KILN_REMOTE_CACHE: server.url,
    KILN_REMOTE_TOKEN: TOKEN,
    KILN_REMOTE_RESPONSE_TIMEOUT: '60',
    KILN_REMOTE_TIMEOUT: '120',
  };
  const run = execa('node', [KILN_MAIN, 'build', '--summary', summaryFile, ...args], { cwd: dir, env, extendEnv: false, reject: false }).then((r) => ({
    exitCode: r.exitCode ?? -1,
    stdout: r.stdout,
    stderr: r.stderr,
    summary: fs.existsSync(summaryFile) ? (JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as RunSummary) : undefined,
    ms: performance.now() - started,
  }));
  return { dir, run };
}

const lines = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

describe('kiln build --shard', () => {
  it('deals the same graph the same way: each level spread over the shards, a chain kept on one', () => {
    const deps: Record<string, string[]> = { r0: [], r1: [], r2: [], m0: ['r0', 'r1'], m1: ['r1', 'r2'], m2: ['r2', 'r0'], all: ['m0', 'm1', 'm2'] };
    const ids = Object.keys(deps);
    const a = shardAssignment(ids, (id) => deps[id]!, 3);
    expect(shardAssignment([...ids].reverse(), (id) => deps[id]!, 3)).toEqual(a);
    expect(new Set(['r0', 'r1', 'r2'].map((id) => a.get(id)))).toEqual(new Set([1, 2, 3]));
    expect(new Set(['m0', 'm1', 'm2'].map((id) => a.get(id)))).toEqual(new Set([1, 2, 3]));
    const chain = Array.from({ length: 100_000 }, (_, i) => `c${i}`);
    const onChain = shardAssignment(chain, (id) => (id === 'c0' ? [] : [`c${Number(id.slice(1)) - 1}`]), 4);
    expect(new Set(onChain.values())).toEqual(new Set([1]));
  });

  it('three agents build every node exactly once between them, and each ends with the bytes of one build', async () => {
    const counter = path.join(tempDir('kiln-shard-count-'), 'runs');
    const file = buildFile();
    const agents = [1, 2, 3].map((i) => agent(file, counter, ['--shard', `${i}/3`]));
    const results = await Promise.all(agents.map((a) => a.run));
    for (const r of results) expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const ran = lines(counter).sort();
    expect(ran).toEqual(['all', 'm0', 'm1', 'm2', 'r0', 'r1', 'r2']);
    // Every agent has every output, identical to the others'.
    const want = fs.readFileSync(path.join(agents[0]!.dir, 'out', 'all.txt'), 'utf8');
    expect(want).toBe('all\nm0\nr0\nr1\nm1\nr1\nr2\nm2\nr2\nr0\n');
    for (const a of agents) expect(fs.readFileSync(path.join(a.dir, 'out', 'all.txt'), 'utf8')).toBe(want);
    // Each agent built its share and took the rest from the remote cache.
    const built = results.flatMap((r) => statuses(r.summary!).built).sort();
    expect(built).toEqual(['all', 'm0', 'm1', 'm2', 'r0', 'r1', 'r2']);
    for (const r of results) expect(statuses(r.summary!).built.length + statuses(r.summary!).cached.length).toBe(7);
  }, 60_000);

  it('a node that fails on its agent fails on the agents waiting for it, with its error and log, without waiting out the timeout', async () => {
    const counter = path.join(tempDir('kiln-shard-count-'), 'runs');
    const file = buildFile('r1');
    // -k: every agent goes on with what does not need r1, so what ran is the same whatever the timing.
    const agents = [1, 2, 3].map((i) => agent(file, counter, ['--shard', `${i}/3`, '--shard-wait', '60', '-k']));
    const results = await Promise.all(agents.map((a) => a.run));
    for (const r of results) expect(r.exitCode).toBe(1);
    const owner = results.find((r) => statuses(r.summary!).failed.includes('r1') && r.summary!.nodes.find((n) => n.id === 'r1')!.error === 'command exited with code 3')!;
    expect(owner).toBeDefined();
    const waiters = results.filter((r) => r !== owner);
    for (const w of waiters) {
      const r1 = w.summary!.nodes.find((n) => n.id === 'r1')!;
      expect(r1.status).toBe('failed');
      expect(r1.error).toMatch(/^failed on shard \d\/3: command exited with code 3$/);
      expect(w.stdout + w.stderr).toContain('broken');
      expect(w.ms).toBeLessThan(30_000);
    }
    // Nothing that needed r1 ran anywhere; the rest ran once.
    expect(lines(counter).sort()).toEqual(['m2', 'r0', 'r1', 'r2']);
  }, 90_000);

  it('an agent alone waits for the others up to --shard-wait, then fails their nodes and says why; without a remote it is a usage error', async () => {
    const counter = path.join(tempDir('kiln-shard-count-'), 'runs');
    const lonely = agent(buildFile(), counter, ['--shard', '1/2', '--shard-wait', '2']);
    const r = await lonely.run;
    expect(r.exitCode).toBe(1);
    const missing = r.summary!.nodes.filter((n) => n.status === 'failed' && /^cache: shard 2\/2 builds it, and its result did not reach the remote cache within 2 s$/.test(n.error ?? ''));
    expect(missing.length).toBeGreaterThan(0);
    expect(r.ms).toBeLessThan(20_000);

    const dir = tempDir('kiln-agent-');
    writeFiles(dir, { 'kiln.yaml': buildFile() });
    const bad = await execa('node', [KILN_MAIN, 'build', '--shard', '3/2'], { cwd: dir, reject: false, env: { ...process.env, KILN_DAEMON: '0' } });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("--shard expects I/N with 1 <= I <= N, got '3/2'");
    const noRemote = await execa('node', [KILN_MAIN, 'build', '--shard', '1/2'], { cwd: dir, reject: false, env: { ...process.env, KILN_DAEMON: '0', KILN_REMOTE_CACHE: '' } });
    expect(noRemote.exitCode).toBe(2);
    expect(noRemote.stderr).toContain('--shard shares results through a remote cache, and none is configured');
  }, 60_000);
});
