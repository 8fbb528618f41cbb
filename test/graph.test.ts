import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { loadWorkspace } from '../engine/buildfile/load.js';
import type { NodeDecl, Workspace } from '../engine/buildfile/types.js';
import { formatDiagnostic } from '../engine/diagnostic.js';
import { buildGraph, toDot, toJson, topoOrder } from '../engine/graph/graph.js';
import { findCycles } from '../engine/graph/cycles.js';
import { selectTargets } from '../engine/graph/targets.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-graph-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

// app depends on svc/api and svc/web; both on lib; tools stands alone.
fs.writeFileSync(
  path.join(dir, 'kiln.yaml'),
  `nodes:
  lib: {rule: run, cmd: make, dir: lib}
  svc/api: {rule: run, cmd: make, deps: [lib]}
  svc/web: {rule: run, cmd: make, deps: [lib]}
  app: {rule: run, cmd: make, deps: [svc/api, svc/web]}
  tools: {rule: run, cmd: make}
`,
);
const loaded = loadWorkspace(path.join(dir, 'kiln.yaml'));
if (!loaded.ok) throw new Error(loaded.diagnostics.map(formatDiagnostic).join('\n'));
const ws: Workspace = loaded.value;

function select(...patterns: string[]): string[] | string[][] {
  const r = selectTargets(ws, patterns);
  return r.ok ? [...r.value].sort() : [r.diagnostics.map(formatDiagnostic)];
}

describe('selectTargets', () => {
  test('no pattern selects every node', () => {
    expect(select()).toEqual(['app', 'lib', 'svc/api', 'svc/web', 'tools']);
  });

  test('an id brings its transitive deps', () => {
    expect(select('app')).toEqual(['app', 'lib', 'svc/api', 'svc/web']);
    expect(select('svc/web')).toEqual(['lib', 'svc/web']);
    expect(select('lib')).toEqual(['lib']);
  });

  test('globs match ids; * stops at /, ** does not', () => {
    expect(select('svc/*')).toEqual(['lib', 'svc/api', 'svc/web']);
    expect(select('*')).toEqual(['app', 'lib', 'svc/api', 'svc/web', 'tools']);
    expect(select('t*', 'svc/a{pi,x}')).toEqual(['lib', 'svc/api', 'tools']);
    expect(select('**/web')).toEqual(['lib', 'svc/web']);
  });

  test('a pattern matching nothing is a diagnostic, with a suggestion when one is close', () => {
    expect(select('ap', 'app', 'zzz/*', 'svc/wbe')).toEqual([
      [
        "no node matches 'ap'\n  hint: did you mean 'app'?",
        "no node matches 'zzz/*'",
        "no node matches 'svc/wbe'\n  hint: did you mean 'svc/web'?",
      ],
    ]);
  });
});

describe('graph', () => {
  const graph = buildGraph(ws);

  test('one graph node per NodeDecl, edges from dep to dependent', () => {
    expect(graph.order).toBe(5);
    expect(graph.getNodeAttributes('svc/api')).toBe(ws.nodes[1]);
    expect(graph.mapEdges((_e, _a, from, to) => `${from}->${to}`)).toEqual([
      'lib->svc/api',
      'lib->svc/web',
      'svc/api->app',
      'svc/web->app',
    ]);
  });

  test('topoOrder puts deps first and can be restricted to a selection', () => {
    const order = topoOrder(graph);
    expect(order).toHaveLength(5);
    for (const node of ws.nodes) {
      for (const dep of node.deps) expect(order.indexOf(dep.id)).toBeLessThan(order.indexOf(node.id));
    }
    expect(topoOrder(graph, new Set(['svc/web', 'lib']))).toEqual(['lib', 'svc/web']);
  });

  test('toDot', () => {
    expect(toDot(graph, new Set(['lib', 'svc/web', 'app']))).toBe(
      [
        'digraph kiln {',
        '  rankdir=LR;',
        '  "lib" [label="lib\\n(run)"];',
        '  "svc/web" [label="svc/web\\n(run)"];',
        '  "app" [label="app\\n(run)"];',
        '  "lib" -> "svc/web";',
        '  "svc/web" -> "app";',
        '}',
        '',
      ].join('\n'),
    );
    expect(toDot(graph).split('\n').filter((l) => l.includes('->'))).toHaveLength(4);
  });

  test('toJson', () => {
    expect(toJson(graph, new Set(['lib', 'svc/api']))).toEqual({
      nodes: [
        { id: 'lib', rule: 'run', dir: 'lib', deps: [] },
        { id: 'svc/api', rule: 'run', dir: '', deps: ['lib'] },
      ],
      edges: [['lib', 'svc/api']],
    });
    const all = toJson(graph);
    expect(all.nodes.map((n) => n.id)).toEqual(['lib', 'svc/api', 'svc/web', 'app', 'tools']);
    expect(all.nodes[3]).toEqual({ id: 'app', rule: 'run', dir: '', deps: ['svc/api', 'svc/web'] });
    expect(all.edges).toHaveLength(4);
  });
});

describe('findCycles', () => {
  const node = (id: string, ...deps: string[]): NodeDecl => ({
    id,
    rule: 'run',
    dir: '',
    deps: deps.map((d, i) => ({ id: d, pos: { file: 'kiln.yaml', line: id.length, column: i + 1 } })),
    inputs: [],
    outputs: [],
    env: [],
    secretEnv: [],
    toolchain: [],
    uses: [],
    attrs: {},
    pos: { file: 'kiln.yaml', line: 1, column: 1 },
    fieldPos: {},
  });

  test('each cycle once, at the dep that closes it; unknown deps and self-deps are left alone', () => {
    const found = findCycles([node('a', 'b'), node('b', 'c', 'b', 'nope'), node('c', 'a'), node('d', 'e'), node('e', 'd', 'c')]);
    expect(found.map(formatDiagnostic)).toEqual([
      'kiln.yaml:1:1: dependency cycle: a -> b -> c -> a\n  hint: remove one of these deps',
      'kiln.yaml:1:1: dependency cycle: d -> e -> d\n  hint: remove one of these deps',
    ]);
    expect(found.map((d) => d.node)).toEqual(['c', 'e']);
  });

  test('a 50,000-node chain does not overflow the stack', () => {
    const chain = Array.from({ length: 50_000 }, (_, i) => (i === 0 ? node('n0') : node(`n${i}`, `n${i - 1}`)));
    expect(findCycles(chain)).toEqual([]);
    chain[0] = node('n0', 'n49999');
    expect(findCycles(chain)).toHaveLength(1);
  });
});
