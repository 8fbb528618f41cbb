import PQueue from 'p-queue';
import { topoOrder } from './topo-order.js';

/** Duration assumed for a node never built here, so unknown nodes still order by path length. */
const UNKNOWN_DURATION_MS = 100;

export interface SchedulePlan {
  /** Node ids in scope. */
  nodes: string[];
  depsOf(id: string): string[];
  /** Recorded duration of a node's last run, if any. */
  duration(id: string): number | undefined;
}

/**
 * Longest remaining path (sum of recorded durations down to a sink) per node:
 * starting the nodes on the critical path first shortens the whole build.
 */
export function criticalPathPriorities(plan: SchedulePlan): Map<string, number> {
  const inScope = new Set(plan.nodes);
  const dependents = new Map<string, string[]>(plan.nodes.map((id) => [id, []]));
  for (const id of plan.nodes) for (const d of plan.depsOf(id)) dependents.get(d)?.push(id);
  const prio = new Map<string, number>();
  // Dependents before their deps: each node's tail is known when it is reached (iterative: long chains are real).
  const order = topoOrder(plan.nodes, (id) => dependents.get(id)!.filter((d) => inScope.has(d)));
  for (const id of order) {
    let tail = 0;
    for (const next of dependents.get(id)!) tail = Math.max(tail, prio.get(next) ?? 0);
    prio.set(id, (plan.duration(id) ?? UNKNOWN_DURATION_MS) + tail);
  }
  return prio;
}

/**
 * What a node's work may return instead of finishing: a wait that needs no
 * worker (for a result another machine builds). Its slot is freed at once;
 * the node counts as settled, and its dependents become ready, when the
 * wait ends.
 */
export interface Parked {
  parked: Promise<void>;
}

/**
 * Runs `work` for every node once all its deps settled, at most `jobs` at a
 * time, highest priority first. `work` never throws: failures are results
 * the caller records; this only orders the calls. Each call gets a lane, the
 * lowest worker slot free at its start, so a trace shows one row per worker.
 */
export async function runScheduled(
  plan: SchedulePlan,
  jobs: number,
  work: (id: string, lane: number) => Promise<void | Parked>,
): Promise<void> {
  const prio = criticalPathPriorities(plan);
  const waiting = new Map<string, number>();
  const dependents = new Map<string, string[]>(plan.nodes.map((id) => [id, []]));
  for (const id of plan.nodes) {
    const deps = plan.depsOf(id);
    waiting.set(id, deps.length);
    for (const d of deps) dependents.get(d)!.push(id);
  }
  const concurrency = Math.max(1, jobs);
  const queue = new PQueue({ concurrency });
  const busy: boolean[] = new Array<boolean>(concurrency).fill(false);
  const parked = new Set<Promise<void>>();
  const settled = (id: string): void => {
    for (const next of dependents.get(id)!) {
      const left = waiting.get(next)! - 1;
      waiting.set(next, left);
      if (left === 0) enqueue(next);
    }
  };
  const enqueue = (id: string): void => {
    void queue.add(
      async () => {
        // p-queue never runs more than `concurrency` tasks, so a free slot exists.
        const lane = busy.indexOf(false);
        busy[lane] = true;
        let result: void | Parked;
        try {
          result = await work(id, lane);
        } finally {
          busy[lane] = false;
        }
        if (!result) return settled(id);
        // The caller's wait never rejects (its failures are results too); settled either way, so the build ends.
        const wait: Promise<void> = result.parked.finally(() => {
          parked.delete(wait);
          settled(id);
        });
        parked.add(wait);
      },
      { priority: prio.get(id)! },
    );
  };
  for (const id of plan.nodes) if (waiting.get(id) === 0) enqueue(id);
  // A parked node that settles may make more work ready: idle means no task queued and none parked.
  for (;;) {
    await queue.onIdle();
    if (parked.size === 0) break;
    await Promise.race(parked);
  }
}
