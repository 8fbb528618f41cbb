// Several kiln processes sharing one cache (DESIGN.md section 4): concurrent
// builds all succeed with correct outputs and leave a consistent cache.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunSummary } from '../engine/pipeline/summary.js';
import { buildWithSummary, kiln, statuses, tempDir, writeFiles } from './kiln.js';
import { mulberry32 as prng } from '../bench/prng.js';

const SEED = Number(process.env.KILN_TEST_SEED ?? 20240611);
const randInt = (rand: () => number, lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));

interface GraphNode {
  id: string;
  deps: string[];
  sleepMs: number;
  bigBytes: number;
}

/** 40 nodes in 4 layers: 12 sources, 12, 10, 6. */
function graph(): GraphNode[] {
  const rand = prng(SEED ^ 0xc0c0);
  const node = (id: string, deps: string[]): GraphNode => ({
    id,
    deps,
    sleepMs: randInt(rand, 10, 40),
    bigBytes: randInt(rand, 20_000, 250_000),
  });
  const nodes: GraphNode[] = [];
  for (let i = 0; i < 12; i++) nodes.push(node(`a${i}`, []));
  for (let i = 0; i < 12; i++) nodes.push(node(`b${i}`, [`a${i}`, `a${(i + 5) % 12}`]));
  for (let i = 0; i < 10; i++) nodes.push(node(`c${i}`, [`b${i}`, `b${(i + 3) % 12}`, `b${(i + 7) % 12}`]));
  for (let i = 0; i < 6; i++) nodes.push(node(`d${i}`, [`c${i}`, `c${(i + 4) % 10}`]));
  return nodes;
}

function cmd(n: GraphNode): string {
  const txt = `out/${n.id}.txt`;
  const parts = n.deps.length === 0 ? `cat src/${n.id}.txt` : `cat ${n.deps.map((d) => `out/${d}.txt`).join(' ')}`;
  return [
    `sleep 0.${String(n.sleepMs).padStart(3, '0')}`,
    `mkdir -p out/${n.id}.d/sub`,
    `{ ${parts}; echo ${n.id}; } > ${txt}`,
    `yes "${n.id} $(head -n 1 ${txt})" | head -c ${n.bigBytes} > out/${n.id}.d/big`,
    `cp ${txt} out/${n.id}.d/sub/copy`,
  ].join(' && ');
}

function buildFile(nodes: GraphNode[]): string {
  const lines = ['nodes:'];
  for (const n of nodes) {
    lines.push(`  ${n.id}:`, '    rule: run');
    if (n.deps.length === 0) lines.push(`    inputs: [src/${n.id}.txt]`);
    else lines.push(`    deps: [${n.deps.join(', ')}]`);
    lines.push(`    outputs: [out/${n.id}.txt, out/${n.id}.d]`);
    lines.push(`    cmd: ${JSON.stringify(cmd(n))}`);
  }
  return `${lines.join('\n')}\n`;
}

const baseSources = (nodes: GraphNode[]): Record<string, string> =>
  Object.fromEntries(nodes.filter((n) => n.deps.length === 0).map((n) => [`src/${n.id}.txt`, `alpha ${n.id}\nsecond line of ${n.id}\n`]));

/** What every output file must contain, computed here without kiln or a shell. */
function expectedOutputs(nodes: GraphNode[], sources: Record<string, string>): Map<string, string> {
  const txt = new Map<string, string>();
  const files = new Map<string, string>();
  for (const n of nodes) {
    const body = n.deps.length === 0 ? sources[`src/${n.id}.txt`]! : n.deps.map((d) => txt.get(d)!).join('');
    const t = `${body}${n.id}\n`;
    txt.set(n.id, t);
    const line = `${n.id} ${t.split('\n')[0]}\n`;
    files.set(`out/${n.id}.txt`, t);
    files.set(`out/${n.id}.d/big`, line.repeat(Math.ceil(n.bigBytes / line.length)).slice(0, n.bigBytes));
    files.set(`out/${n.id}.d/sub/copy`, t);
  }
  return files;
}

/** Every file under out/, compared with what it must be; returns the mismatches. */
function wrongOutputs(ws: string, expected: Map<string, string>): string[] {
  const wrong: string[] = [];
  const seen = new Set<string>();
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(ws, rel))) {
      const child = `${rel}/${name}`;
      if (fs.statSync(path.join(ws, child)).isDirectory()) walk(child);
      else {
        seen.add(child);
        const want = expected.get(child);
        if (want === undefined) wrong.push(`${child}: unexpected file`);
        else if (fs.readFileSync(path.join(ws, child), 'latin1') !== want) wrong.push(`${child}: wrong content`);
      }
    }
  };
  walk('out');
  for (const f of expected.keys()) if (!seen.has(f)) wrong.push(`${f}: missing`);
  return wrong;
}

/** Nodes that (transitively) depend on `id`, and `id` itself. */
function reach(nodes: GraphNode[], id: string): Set<string> {
  const out = new Set([id]);
  for (const n of nodes) if (n.deps.some((d) => out.has(d))) out.add(n.id);
  return out;
}

function checkout(template: string): string {
  const ws = tempDir('kiln-conc-ws-');
  fs.cpSync(template, ws, { recursive: true });
  return ws;
}

const build = (ws: string, cacheDir: string) =>
  buildWithSummary(ws, ['-f', path.join(ws, 'kiln.yaml'), '-j', '3'], { KILN_CACHE_DIR: cacheDir });

async function cacheEntries(cacheDir: string): Promise<number> {
  const r = await kiln(cacheDir, ['cache', 'stats', '--cache-dir', cacheDir]);
  expect(r.exitCode, r.stderr).toBe(0);
  return Number(/^entries: (\d+)$/m.exec(r.stdout)?.[1] ?? NaN);
}

async function expectCleanCache(cacheDir: string): Promise<void> {
  const r = await kiln(cacheDir, ['cache', 'verify', '--cache-dir', cacheDir]);
  expect(r.stdout, r.stderr).toMatch(/^corrupt blobs removed: 0$/m);
  expect(r.stdout).toMatch(/^broken entries removed: 0$/m);
  expect(r.exitCode, r.stdout).toBe(0);
}

const byId = (s: RunSummary) => new Map(s.nodes.map((n) => [n.id, n]));

describe('concurrent builds sharing one cache', () => {
  const nodes = graph();

  it('4 checkouts of one workspace build at once, all correct; a 5th is all cache hits', async () => {
    const template = tempDir('kiln-conc-template-');
    const sources = baseSources(nodes);
    writeFiles(template, { 'kiln.yaml': buildFile(nodes), ...sources });
    const expected = expectedOutputs(nodes, sources);
    const cacheDir = tempDir('kiln-conc-cache-');

    const checkouts = [0, 1, 2, 3].map(() => checkout(template));
    const runs = await Promise.all(checkouts.map((ws) => build(ws, cacheDir)));
    runs.forEach((r, i) => {
      expect(r.exitCode, `checkout ${i}: ${r.stderr}${r.stdout}`).toBe(0);
      const s = statuses(r.summary);
      expect({ failed: s.failed, skipped: s.skipped }, `checkout ${i}`).toEqual({ failed: [], skipped: [] });
      expect(s.built.length + s.cached.length).toBe(nodes.length);
      expect(wrongOutputs(checkouts[i]!, expected), `checkout ${i}`).toEqual([]);
    });

    // Same sources, same keys and output digests everywhere; and every node
    // was built by someone (a hit needs an entry some process stored).
    const summaries = runs.map((r) => byId(r.summary));
    for (const n of nodes) {
      const mine = summaries.map((s) => s.get(n.id)!);
      expect(new Set(mine.map((m) => m.key)).size, n.id).toBe(1);
      expect(new Set(mine.map((m) => m.outputDigest)).size, n.id).toBe(1);
      expect(mine.some((m) => m.status === 'built'), `${n.id} was built by nobody`).toBe(true);
    }

    const raced = nodes.filter((n) => summaries.filter((s) => s.get(n.id)!.status === 'built').length > 1).length;
    console.log(`${raced} of ${nodes.length} nodes were built by more than one checkout at once`);
    expect(await cacheEntries(cacheDir)).toBe(nodes.length);
    await expectCleanCache(cacheDir);

    const fifth = checkout(template);
    const last = await build(fifth, cacheDir);
    expect(last.exitCode, last.stderr).toBe(0);
    expect(statuses(last.summary).cached).toHaveLength(nodes.length);
    expect(last.summary.nodes.every((n) => n.cache === 'local')).toBe(true);
    expect(wrongOutputs(fifth, expected)).toEqual([]);
    for (const n of last.summary.nodes) expect(n.outputDigest, n.id).toBe(summaries[0]!.get(n.id)!.outputDigest);
  });

  it('4 checkouts that differ in one input build at once, each with its own correct outputs', async () => {
    const template = tempDir('kiln-conc-template-');
    const sources = baseSources(nodes);
    writeFiles(template, { 'kiln.yaml': buildFile(nodes), ...sources });
    const changedSources = { ...sources, 'src/a0.txt': 'alpha a0, edited\nsecond line, edited\n' };
    const expected = [sources, sources, changedSources, changedSources].map((s) => expectedOutputs(nodes, s));
    const cacheDir = tempDir('kiln-conc-cache-');

    const checkouts = [0, 1, 2, 3].map(() => checkout(template));
    for (const ws of checkouts.slice(2)) fs.writeFileSync(path.join(ws, 'src/a0.txt'), changedSources['src/a0.txt']);

    const runs = await Promise.all(checkouts.map((ws) => build(ws, cacheDir)));
    runs.forEach((r, i) => {
      expect(r.exitCode, `checkout ${i}: ${r.stderr}${r.stdout}`).toBe(0);
      const s = statuses(r.summary);
      expect({ failed: s.failed, skipped: s.skipped }, `checkout ${i}`).toEqual({ failed: [], skipped: [] });
      expect(wrongOutputs(checkouts[i]!, expected[i]!), `checkout ${i}`).toEqual([]);
    });

    // Keys differ exactly where the edit reaches.
    const changed = reach(nodes, 'a0');
    expect(changed.size).toBeGreaterThan(3);
    const [s0, s1, s2, s3] = runs.map((r) => byId(r.summary));
    for (const n of nodes) {
      expect(s1!.get(n.id)!.key, n.id).toBe(s0!.get(n.id)!.key);
      expect(s3!.get(n.id)!.key, n.id).toBe(s2!.get(n.id)!.key);
      if (changed.has(n.id)) expect(s2!.get(n.id)!.key, n.id).not.toBe(s0!.get(n.id)!.key);
      else expect(s2!.get(n.id)!.key, n.id).toBe(s0!.get(n.id)!.key);
    }

    expect(await cacheEntries(cacheDir)).toBe(nodes.length + changed.size);
    await expectCleanCache(cacheDir);

    // Both variants are now complete in the cache.
    for (const [i, src] of [sources, changedSources].entries()) {
      const ws = checkout(template);
      fs.writeFileSync(path.join(ws, 'src/a0.txt'), src['src/a0.txt']!);
      const r = await build(ws, cacheDir);
      expect(statuses(r.summary).cached, `variant ${i}`).toHaveLength(nodes.length);
      expect(wrongOutputs(ws, expectedOutputs(nodes, src)), `variant ${i}`).toEqual([]);
    }
  });
});
