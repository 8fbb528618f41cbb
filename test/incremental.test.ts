// Randomised incremental correctness: a generated ~50-node graph, random
// edits to inputs, env and the build file; after each edit the set of nodes
// kiln rebuilt must equal the set a model of the graph says changed (with
// early cutoff), and every output must equal the model's content, which is
// also what a clean build from an empty cache produces.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildWithSummary, statuses, tempDir, writeFiles } from './kiln.js';
import { mulberry32 as prng } from '../bench/prng.js';

interface ModelNode {
  id: string;
  deps: string[];
  /** copy: output is tag + input + dep outputs + env; len: output is only their byte length (early cutoff). */
  mode: 'copy' | 'len';
  envVar: string | null;
  tag: string;
}


function generate(rand: () => number, layers: number, width: number): ModelNode[] {
  const nodes: ModelNode[] = [];
  for (let l = 0; l < layers; l++) {
    for (let w = 0; w < width; w++) {
      const earlier = nodes.slice(0, l * width);
      const deps = new Set<string>();
      const want = l === 0 ? 0 : 1 + Math.floor(rand() * 3);
      while (deps.size < Math.min(want, earlier.length)) deps.add(earlier[Math.floor(rand() * earlier.length)]!.id);
      nodes.push({
        id: `n${l}-${w}`,
        deps: [...deps].sort(),
        mode: rand() < 0.3 ? 'len' : 'copy',
        envVar: rand() < 0.2 ? `V_${l}_${w}` : null,
        tag: 't0',
      });
    }
  }
  return nodes;
}

function buildFile(nodes: ModelNode[]): string {
  const lines = ['nodes:'];
  for (const n of nodes) {
    const sources = [`src/${n.id}.txt`, ...n.deps.map((d) => `out/${d}.txt`)].join(' ');
    const cmd =
      n.mode === 'copy'
        ? `mkdir -p out && { echo ${n.tag}; cat ${sources};${n.envVar ? ` echo "$${n.envVar}";` : ''} } > out/${n.id}.txt`
        : `: ${n.tag}; mkdir -p out && { cat ${sources};${n.envVar ? ` echo "$${n.envVar}";` : ''} } | wc -c | tr -d ' ' > out/${n.id}.txt`;
    lines.push(`  ${n.id}:`, '    rule: run', `    inputs: [src/${n.id}.txt]`, `    outputs: [out/${n.id}.txt]`);
    if (n.deps.length) lines.push(`    deps: [${n.deps.join(', ')}]`);
    if (n.envVar) lines.push(`    env: [${n.envVar}]`);
    lines.push(`    cmd: ${JSON.stringify(cmd)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** What each node's output must contain, computed from the model alone. */
function expectedOutputs(nodes: ModelNode[], inputs: Map<string, string>, env: Record<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const n of nodes) {
    const body = inputs.get(n.id)! + n.deps.map((d) => out.get(d)!).join('') + (n.envVar ? `${env[n.envVar] ?? ''}\n` : '');
    out.set(n.id, n.mode === 'copy' ? `${n.tag}\n${body}` : `${Buffer.byteLength(body)}\n`);
  }
  return out;
}

/** Nodes whose own ingredients changed, or whose deps' outputs changed. */
function expectedRebuilt(
  nodes: ModelNode[],
  before: { outputs: Map<string, string>; inputs: Map<string, string>; env: Record<string, string>; tags: Map<string, string> },
  after: { outputs: Map<string, string>; inputs: Map<string, string>; env: Record<string, string> },
): string[] {
  return nodes
    .filter(
      (n) =>
        before.inputs.get(n.id) !== after.inputs.get(n.id) ||
        before.tags.get(n.id) !== n.tag ||
        (n.envVar !== null && before.env[n.envVar] !== after.env[n.envVar]) ||
        n.deps.some((d) => before.outputs.get(d) !== after.outputs.get(d)),
    )
    .map((n) => n.id)
    .sort();
}

describe('incremental correctness', () => {
  it('rebuilds exactly the nodes whose ingredients changed, over random edits', async () => {
    const rand = prng(20261123);
    const nodes = generate(rand, 5, 10);
    const ws = tempDir();
    const cacheDir = tempDir('kiln-cache-');
    const inputs = new Map(nodes.map((n) => [n.id, `${n.id} v0\n`]));
    const env: Record<string, string> = Object.fromEntries(nodes.filter((n) => n.envVar).map((n) => [n.envVar!, 'e0']));
    // Only changed files are written, and the build waits out the racy margin: unchanged nodes
    // are then proven up to date by their input stamps, the path a real no-op takes.
    const write = async () => {
      const files = { 'kiln.yaml': buildFile(nodes), ...Object.fromEntries([...inputs].map(([id, c]) => [`src/${id}.txt`, c])) };
      writeFiles(ws, Object.fromEntries(Object.entries(files).filter(([f, c]) => readOrNull(path.join(ws, f)) !== c)));
      await new Promise((r) => setTimeout(r, 150));
    };
    await write();
    const cold = await buildWithSummary(ws, [], { KILN_CACHE_DIR: cacheDir, ...env });
    expect(cold.exitCode).toBe(0);
    expect(statuses(cold.summary).built).toHaveLength(nodes.length);
    let outputs = expectedOutputs(nodes, inputs, env);
    let sawCutoff = false;

    for (let round = 0; round < 12; round++) {
      const before = { outputs, inputs: new Map(inputs), env: { ...env }, tags: new Map(nodes.map((n) => [n.id, n.tag])) };
      const edits = 1 + Math.floor(rand() * 3);
      for (let e = 0; e < edits; e++) {
        const n = nodes[Math.floor(rand() * nodes.length)]!;
        const kind = rand();
        if (kind < 0.45) {
          // Same length half the time: 'len' nodes then cut the wave off.
          const old = inputs.get(n.id)!;
          inputs.set(n.id, rand() < 0.5 ? old.replace(/v\d+/, `v${round % 10}`).replace(/\n$/, 'x\n').slice(0, old.length) : `${old}more ${round}\n`);
        } else if (kind < 0.7 && Object.keys(env).length > 0) {
          const names = Object.keys(env);
          env[names[Math.floor(rand() * names.length)]!] = `e${round}`;
        } else {
          n.tag = `t${round + 1}`;
        }
      }
      await write();
      const after = { outputs: expectedOutputs(nodes, inputs, env), inputs, env };
      const expected = expectedRebuilt(nodes, before, after);
      const r = await buildWithSummary(ws, [], { KILN_CACHE_DIR: cacheDir, ...env });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(statuses(r.summary).built, `round ${round}`).toEqual(expected);
      const changedInputs = nodes.filter((n) => before.inputs.get(n.id) !== inputs.get(n.id) || before.tags.get(n.id) !== n.tag);
      if (changedInputs.some((n) => n.mode === 'len' && before.outputs.get(n.id) === after.outputs.get(n.id))) sawCutoff = true;
      outputs = after.outputs;
      for (const n of nodes) expect(fs.readFileSync(path.join(ws, 'out', `${n.id}.txt`), 'utf8'), n.id).toBe(outputs.get(n.id));
    }
    expect(sawCutoff, 'the random edits must exercise early cutoff at least once').toBe(true);

    // A clean build of the final state from an empty cache gives the same bytes.
    const clean = tempDir('kiln-clean-');
    writeFiles(clean, { 'kiln.yaml': buildFile(nodes), ...Object.fromEntries([...inputs].map(([id, c]) => [`src/${id}.txt`, c])) });
    const fresh = await buildWithSummary(clean, [], { KILN_CACHE_DIR: tempDir('kiln-empty-'), ...env });
    expect(fresh.exitCode).toBe(0);
    for (const n of nodes) {
      expect(fs.readFileSync(path.join(clean, 'out', `${n.id}.txt`))).toEqual(fs.readFileSync(path.join(ws, 'out', `${n.id}.txt`)));
    }
  }, 180_000); // 14 builds: minutes on a loaded 2-core machine
});

function readOrNull(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}
