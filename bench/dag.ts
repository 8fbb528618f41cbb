import { randInt } from './prng.js';

export interface DagNode {
  id: string;
  layer: number;
  /** Ids of the nodes this one depends on, all in earlier layers. */
  deps: string[];
}

/**
 * A layered DAG: nodes split evenly into `layers`, each node of layer > 0
 * depending on 1-3 distinct nodes of earlier layers. The first dep is always
 * taken from the previous layer, so the number of layers is the real length
 * of the critical path (uniform picks would mostly land in early layers).
 */
export function layeredDag(n: number, layers: number, rand: () => number): DagNode[] {
  const width = Math.max(4, String(n - 1).length);
  const ids = Array.from({ length: n }, (_, i) => `pkg-${String(i).padStart(width, '0')}`);
  const layerOf = (i: number) => Math.floor((i * layers) / n);
  const firstOfLayer: number[] = [];
  for (let i = n - 1; i >= 0; i--) firstOfLayer[layerOf(i)] = i;
  return ids.map((id, i) => {
    const layer = layerOf(i);
    if (layer === 0) return { id, layer, deps: [] };
    const start = firstOfLayer[layer]!;
    const prevStart = firstOfLayer[layer - 1]!;
    const picked = new Set<number>([prevStart + randInt(rand, start - prevStart)]);
    const want = Math.min(1 + randInt(rand, 3), start);
    while (picked.size < want) picked.add(randInt(rand, start));
    return { id, layer, deps: [...picked].sort((a, b) => a - b).map((d) => ids[d]!) };
  });
}

/** `id` plus every node that transitively depends on it: what a change to `id`'s sources must rebuild. */
export function dependentsClosure(nodes: readonly DagNode[], id: string): Set<string> {
  const dependents = new Map<string, string[]>();
  for (const n of nodes) {
    for (const d of n.deps) {
      const list = dependents.get(d);
      if (list) list.push(n.id);
      else dependents.set(d, [n.id]);
    }
  }
  const seen = new Set([id]);
  const stack = [id];
  while (stack.length > 0) {
    for (const next of dependents.get(stack.pop()!) ?? []) {
      if (!seen.has(next)) {
        seen.add(next);
        stack.push(next);
      }
    }
  }
  return seen;
}

/** Nodes no other node depends on. */
export function leaves(nodes: readonly DagNode[]): DagNode[] {
  const used = new Set(nodes.flatMap((n) => n.deps));
  return nodes.filter((n) => !used.has(n.id));
}
