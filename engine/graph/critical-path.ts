/**
 * How close a run came to the fastest it could have been, Bazel
 * analyze-profile style: no schedule can beat the longest dependency chain
 * (the critical path), nor the total work spread evenly over the workers.
 * Pure: the input is a run's node rows, as history recorded them.
 */

/** What the analysis needs of a node run: how long it took in that run, and its direct deps. */
export interface TimedNode {
  node: string;
  durationMs: number;
  deps: string[];
}

export interface RunBound {
  /** The dependency chain with the largest sum of durations, first node first. */
  path: { node: string; durationMs: number }[];
  criticalPathMs: number;
  /** Sum of every node's duration. */
  totalWorkMs: number;
  workers: number;
  /** max(critical path, total work / workers). */
  lowerBoundMs: number;
  runMs: number;
  /** runMs − lowerBoundMs: what scheduling and kiln's own overhead cost. */
  aboveBoundMs: number;
  /** runMs / lowerBoundMs; null when the bound is 0 (nothing took any time). */
  ratio: number | null;
}

// Durations are recorded to 0.1 ms: sums are rounded back to that, so 0.1 + 0.2 reads 0.3.
const round = (ms: number) => Math.round(ms * 10) / 10;

/**
 * The critical path and lower bound of a run. Deps that are not among
 * `nodes` (outside the run's selection) are ignored. On equal chains the
 * one through the earlier-listed dependency wins, so the answer is stable.
 */
export function analyzeRun(nodes: TimedNode[], workers: number, runMs: number): RunBound {
  const byId = new Map(nodes.map((n) => [n.node, n]));
  // Longest chain ending at each node (its own duration included), and the dep it continues.
  const longest = new Map<string, { ms: number; via: string | undefined }>();
  for (const root of nodes) {
    // Iterative post-order: a long chain must not exhaust the stack.
    const stack: { id: string; expanded: boolean }[] = [{ id: root.node, expanded: false }];
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (longest.has(top.id)) {
        stack.pop();
        continue;
      }
      const deps = byId.get(top.id)!.deps.filter((d) => byId.has(d));
      if (!top.expanded) {
        top.expanded = true;
        for (const d of deps) if (!longest.has(d)) stack.push({ id: d, expanded: false });
        continue;
      }
      stack.pop();
      let best: { ms: number; via: string | undefined } = { ms: 0, via: undefined };
      for (const d of deps) {
        const ms = longest.get(d)?.ms ?? 0; // absent only on a cycle, which history never records
        if (ms > best.ms) best = { ms, via: d };
      }
      longest.set(top.id, { ms: best.ms + byId.get(top.id)!.durationMs, via: best.via });
    }
  }

  let end: string | undefined;
  for (const n of nodes) if (end === undefined || longest.get(n.node)!.ms > longest.get(end)!.ms) end = n.node;
  const path: RunBound['path'] = [];
  for (let id = end; id !== undefined; id = longest.get(id)!.via) path.unshift({ node: id, durationMs: byId.get(id)!.durationMs });

  const criticalPathMs = round(path.reduce((sum, p) => sum + p.durationMs, 0));
  const totalWorkMs = round(nodes.reduce((sum, n) => sum + n.durationMs, 0));
  const lowerBoundMs = round(Math.max(criticalPathMs, totalWorkMs / Math.max(1, workers)));
  return {
    path,
    criticalPathMs,
    totalWorkMs,
    workers,
    lowerBoundMs,
    runMs,
    aboveBoundMs: round(runMs - lowerBoundMs),
    ratio: lowerBoundMs > 0 ? runMs / lowerBoundMs : null,
  };
}
