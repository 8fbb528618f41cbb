import { topoOrder } from './topo-order.js';

/** `--shard i/n`: this agent is `index` (1-based) of `count`. */
export interface ShardSpec {
  index: number;
  count: number;
}

/**
 * Which shard builds each node: the same answer on every agent of a CI
 * matrix, from the graph alone (no agent knows another's timings). Nodes
 * are taken level by level (a node's level is one more than its deepest
 * dep's), by id within a level, and dealt round-robin: each level's width
 * is spread over the shards, which is where a graph's parallelism is.
 * Iterative, for 100,000-node chains.
 */
export function shardAssignment(nodes: readonly string[], depsOf: (id: string) => readonly string[], count: number): Map<string, number> {
  const inScope = new Set(nodes);
  const level = new Map<string, number>();
  for (const id of topoOrder([...nodes], (x) => depsOf(x).filter((d) => inScope.has(d)))) {
    let deepest = -1;
    for (const d of depsOf(id)) if (inScope.has(d)) deepest = Math.max(deepest, level.get(d)!);
    level.set(id, deepest + 1);
  }
  const order = [...nodes].sort((a, b) => level.get(a)! - level.get(b)! || (a < b ? -1 : a > b ? 1 : 0));
  const shard = new Map<string, number>();
  let next = 0;
  let currentLevel = -1;
  for (const id of order) {
    // Each level starts again at shard 1, so level sizes smaller than the shard count still spread from the first.
    if (level.get(id)! !== currentLevel) {
      currentLevel = level.get(id)!;
      next = 0;
    }
    shard.set(id, (next++ % count) + 1);
  }
  return shard;
}
