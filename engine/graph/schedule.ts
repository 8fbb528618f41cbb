import PQueue from 'p-queue';

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
 * A plan's nodes by place, for the walks below: node i's deps are
 * `deps.edges[deps.first[i]]` up to `deps.first[i + 1]`, its dependents
 * likewise, deps outside the plan left out. Typed arrays and places, not
 * Maps of ids and lists: a 100,000-node plan is walked without allocating
 * per node, and without recursion.
 */
interface IndexedPlan {
  ids: readonly string[];
  deps: Adjacency;
  dependents: Adjacency;
}

interface Adjacency {
  first: Int32Array;
  edges: Int32Array;
}

function indexPlan(plan: SchedulePlan): IndexedPlan {
  const ids = plan.nodes;
  const place = new Map<string, number>();
  for (let i = 0; i < ids.length; i++) place.set(ids[i]!, i);
  const depFirst = new Int32Array(ids.length + 1);
  const depList: number[] = [];
  const dependentCount = new Int32Array(ids.length + 1);
  for (let i = 0; i < ids.length; i++) {
    for (const dep of plan.depsOf(ids[i]!)) {
      const d = place.get(dep);
      if (d === undefined) continue;
      depList.push(d);
      dependentCount[d + 1]!++;
    }
    depFirst[i + 1] = depList.length;
  }
  // Dependents: counted above, each node's slice placed by a running sum, then filled.
  const dependentFirst = dependentCount;
  for (let i = 0; i < ids.length; i++) dependentFirst[i + 1]! += dependentFirst[i]!;
  const dependentEdges = new Int32Array(depList.length);
  const filled = dependentFirst.slice(0, ids.length);
  for (let i = 0; i < ids.length; i++) {
    for (let e = depFirst[i]!; e < depFirst[i + 1]!; e++) dependentEdges[filled[depList[e]!]!++] = i;
  }
  return { ids, deps: { first: depFirst, edges: Int32Array.from(depList) }, dependents: { first: dependentFirst, edges: dependentEdges } };
}

/**
 * Longest remaining path per node: its duration plus the longest of its
 * dependents'. Sinks first, each node once all its dependents are known
 * (a node on a cycle, which the loader never lets through, counts its own
 * duration and whatever of its dependents was known).
 */
function longestTails(p: IndexedPlan, duration: (id: string) => number | undefined): Float64Array {
  const n = p.ids.length;
  const { deps, dependents } = p;
  const tail = new Float64Array(n);
  const prio = new Float64Array(n);
  const unknownDependents = new Int32Array(n);
  const ready = new Int32Array(n);
  let top = 0;
  for (let i = 0; i < n; i++) {
    unknownDependents[i] = dependents.first[i + 1]! - dependents.first[i]!;
    if (unknownDependents[i] === 0) ready[top++] = i;
  }
  const settle = (i: number): void => {
    prio[i] = (duration(p.ids[i]!) ?? UNKNOWN_DURATION_MS) + tail[i]!;
    for (let e = deps.first[i]!; e < deps.first[i + 1]!; e++) {
      const d = deps.edges[e]!;
      if (prio[i]! > tail[d]!) tail[d] = prio[i]!;
      if (--unknownDependents[d] === 0) ready[top++] = d;
    }
  };
  while (top > 0) settle(ready[--top]!);
  for (let i = 0; i < n; i++) if (unknownDependents[i]! > 0) prio[i] = (duration(p.ids[i]!) ?? UNKNOWN_DURATION_MS) + tail[i]!;
  return prio;
}

/**
 * Longest remaining path (sum of recorded durations down to a sink) per node:
 * starting the nodes on the critical path first shortens the whole build.
 */
export function criticalPathPriorities(plan: SchedulePlan): Map<string, number> {
  const p = indexPlan(plan);
  const prio = longestTails(p, plan.duration);
  const byId = new Map<string, number>();
  for (let i = 0; i < p.ids.length; i++) byId.set(p.ids[i]!, prio[i]!);
  return byId;
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
  /**
   * Asked of each node as it becomes ready: true when it settled there and
   * then, needing no worker (it cannot start: a dep failed). Its dependents
   * are then asked in turn, in the same pass. Like `work`, it never throws.
   */
  settleAtOnce: (id: string) => boolean = () => false,
): Promise<void> {
  const p = indexPlan(plan);
  const prio = longestTails(p, plan.duration);
  const waiting = new Int32Array(p.ids.length);
  for (let i = 0; i < p.ids.length; i++) waiting[i] = p.deps.first[i + 1]! - p.deps.first[i]!;
  const concurrency = Math.max(1, jobs);
  const queue = new PQueue({ concurrency });
  const busy: boolean[] = new Array<boolean>(concurrency).fill(false);
  const parked = new Set<Promise<void>>();
  /** Nodes whose deps have all settled: those `settleAtOnce` settles free their dependents in turn (a worklist, not recursion: chains are long). */
  const becameReady = (ready: number[]): void => {
    const queued: number[] = [];
    for (let k = 0; k < ready.length; k++) {
      const i = ready[k]!;
      if (settleAtOnce(p.ids[i]!)) freeDependents(i, ready);
      else queued.push(i);
    }
    // p-queue starts a task at once while a worker is free: nodes made ready together are added highest priority first.
    if (queued.length > 1) queued.sort((a, b) => prio[b]! - prio[a]!);
    for (const i of queued) enqueue(i);
  };
  const freeDependents = (i: number, ready: number[]): void => {
    for (let e = p.dependents.first[i]!; e < p.dependents.first[i + 1]!; e++) {
      const next = p.dependents.edges[e]!;
      if (--waiting[next] === 0) ready.push(next);
    }
  };
  const settled = (i: number): void => {
    const ready: number[] = [];
    freeDependents(i, ready);
    becameReady(ready);
  };
  const enqueue = (i: number): void => {
    const id = p.ids[i]!;
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
        if (!result) return settled(i);
        // The caller's wait never rejects (its failures are results too); settled either way, so the build ends.
        const wait: Promise<void> = result.parked.finally(() => {
          parked.delete(wait);
          settled(i);
        });
        parked.add(wait);
      },
      { priority: prio[i]! },
    );
  };
  const roots: number[] = [];
  for (let i = 0; i < p.ids.length; i++) if (waiting[i] === 0) roots.push(i);
  becameReady(roots);
  // A parked node that settles may make more work ready: idle means no task queued and none parked.
  for (;;) {
    await queue.onIdle();
    if (parked.size === 0) break;
    await Promise.race(parked);
  }
}
