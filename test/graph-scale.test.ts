// Graph walks at scale: a 20,000-node chain and fan load, plan and explain
// through the CLI without a recursive walk overflowing the stack (100,000
// work the same way, in about 2.5 s each here: too slow for the suite), and
// the stamp proof of a no-op settles a 100,000-node chain deps first.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadWorkspace } from '../engine/buildfile/load.js';
import { nodeIndex } from '../engine/graph/node-index.js';
import { criticalPathPriorities } from '../engine/graph/schedule.js';
import { declaredIngredients } from '../engine/keys/ingredients.js';
import { contextSignature, settleByStamps } from '../engine/keys/up-to-date.js';
import type { NodeState } from '../engine/state/node-states.js';
import { rules } from '../rules/index.js';
import { buildWithSummary, kiln, tempDir } from './kiln.js';

const N = 100_000;
/** Through the CLI: far past the depth a recursive walk survives (~5,000), at a cost the suite can carry. */
const CLI_N = 20_000;

function chainFile(n: number): string {
  const lines = ['nodes:'];
  for (let i = 0; i < n; i++) lines.push(`  n${i}:`, '    rule: run', ...(i > 0 ? [`    deps: [n${i - 1}]`] : []), '    cmd: "true"');
  return `${lines.join('\n')}\n`;
}

function fanFile(n: number): string {
  const lines = ['nodes:', '  root:', '    rule: run', '    cmd: "true"'];
  for (let i = 1; i < n; i++) lines.push(`  f${i}:`, '    rule: run', '    deps: [root]', '    cmd: "true"');
  return `${lines.join('\n')}\n`;
}

describe('long chains and wide fans', () => {
  for (const [shape, text, last] of [
    ['chain', chainFile(CLI_N), `n${CLI_N - 1}`],
    ['fan', fanFile(CLI_N), `f${CLI_N - 1}`],
  ] as const) {
    it(`a ${shape} loads, plans (dry run), graphs and explains`, async () => {
      const dir = tempDir(`kiln-${shape}-`);
      fs.writeFileSync(path.join(dir, 'kiln.yaml'), text);
      expect(loadWorkspace(path.join(dir, 'kiln.yaml')).ok).toBe(true);
      const dry = await buildWithSummary(dir, ['--dry-run', '--logs', 'none'], { KILN_DAEMON: '0' });
      expect(dry.exitCode, dry.stderr.slice(0, 500)).toBe(0);
      expect(dry.summary.nodes).toHaveLength(CLI_N);
      const why = await kiln(dir, ['why', last], { KILN_DAEMON: '0' });
      expect(why.exitCode, why.stderr.slice(0, 500)).toBe(0);
      expect(why.stdout).toContain(`${last}: will build: never built in this checkout`);
    }, 120_000);
  }

  it('a file of 150,000 nodes loads, and reports 149,999 clashing outputs, without spreading a list into a call', () => {
    // Past ~120,000 arguments, push(...list) overflows the stack: the load of such a file crashed.
    const n = 150_000;
    const lines = ['nodes:'];
    for (let i = 0; i < n; i++) lines.push(`  f${i}: {rule: run, cmd: "true", outputs: [out]}`);
    const dir = tempDir('kiln-wide-');
    fs.writeFileSync(path.join(dir, 'kiln.yaml'), `${lines.join('\n')}\n`);
    const loaded = loadWorkspace(path.join(dir, 'kiln.yaml'));
    if (loaded.ok) throw new Error('clashing outputs loaded');
    expect(loaded.diagnostics).toHaveLength(n - 1);
    expect(loaded.diagnostics[n - 2]).toMatchObject({ node: `f${n - 1}`, pos: { line: n + 1, column: lines[n]!.indexOf('out]') + 1 }, message: "output 'out' is also declared by node 'f0'" });
  });

  it('a chain settles by stamps deps first, and gets critical-path priorities, without recursion', () => {
    const dir = tempDir('kiln-chain-stamps-');
    fs.writeFileSync(path.join(dir, 'kiln.yaml'), chainFile(N));
    const loaded = loadWorkspace(path.join(dir, 'kiln.yaml'));
    if (!loaded.ok) throw new Error('load failed');
    const ws = loaded.value;
    const byId = nodeIndex(ws);
    // States as a build would have left them: no inputs, no outputs, each dep's digest in the context.
    const states = new Map<string, NodeState>();
    for (const node of ws.nodes) {
      const depDigests = Object.fromEntries(node.deps.map((d) => [d.id, `digest-${d.id}`]));
      const context = contextSignature(node, declaredIngredients(node, depDigests, {}));
      states.set(node.id, { key: `key-${node.id}`, outputDigest: `digest-${node.id}`, fingerprint: '', log: null, durationMs: 1, inputStamp: '', context, written: [] });
    }
    const order: string[] = [];
    const proven = settleByStamps([...byId.keys()].reverse(), byId, states, dir, {}, rules, { allowed: () => true, settled: (node) => order.push(node.id) });
    expect(proven.size).toBe(N);
    expect(order[0]).toBe('n0');
    expect(order[N - 1]).toBe(`n${N - 1}`);
    const prio = criticalPathPriorities({ nodes: [...byId.keys()], depsOf: (id) => byId.get(id)!.deps.map((d) => d.id), duration: () => 1 });
    expect(prio.get('n0')).toBe(N);
    expect(prio.get(`n${N - 1}`)).toBe(1);
  });
});
