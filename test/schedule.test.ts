// The scheduler's order: deps before dependents, the longest remaining
// chain first, at most `jobs` at once; on plans of every shape and size.
import { describe, expect, it } from 'vitest';
import { criticalPathPriorities, runScheduled, type SchedulePlan } from '../engine/graph/schedule.js';

function planOf(deps: Record<string, string[]>, durations: Record<string, number> = {}): SchedulePlan {
  return { nodes: Object.keys(deps), depsOf: (id) => deps[id] ?? [], duration: (id) => durations[id] };
}

/** The order `runScheduled` starts the nodes in, one worker. */
async function startOrder(plan: SchedulePlan, jobs = 1): Promise<string[]> {
  const order: string[] = [];
  await runScheduled(plan, jobs, async (id) => {
    order.push(id);
  });
  return order;
}

describe('critical-path priorities', () => {
  it('are each node’s duration plus its longest chain of dependents', () => {
    // lib feeds a slow app (through gen) and a quick doc; deps outside the plan (`ext`) are ignored.
    const plan = planOf({ lib: ['ext'], gen: ['lib'], app: ['gen'], doc: ['lib'] }, { lib: 5, gen: 20, app: 30, doc: 1 });
    expect(Object.fromEntries(criticalPathPriorities(plan))).toEqual({ lib: 55, gen: 50, app: 30, doc: 1 });
  });

  it('count 100 ms for a node never built, so unknown nodes still order by chain length', () => {
    expect(Object.fromEntries(criticalPathPriorities(planOf({ a: [], b: ['a'], c: [] }, { c: 150 })))).toEqual({ a: 200, b: 100, c: 150 });
  });
});

describe('runScheduled', () => {
  it('starts the ready node on the longest chain first, and each node after its deps', async () => {
    const plan = planOf({ quick: [], slow: [], after: ['slow'], last: ['after', 'quick'] }, { quick: 1, slow: 10, after: 10, last: 1 });
    expect(await startOrder(plan)).toEqual(['slow', 'after', 'quick', 'last']);
  });

  it('runs a 100,000-node chain and a 100,000-node fan in dependency order', async () => {
    const n = 100_000;
    const chain: Record<string, string[]> = {};
    const fan: Record<string, string[]> = { root: [] };
    for (let i = 0; i < n; i++) {
      chain[`c${i}`] = i === 0 ? [] : [`c${i - 1}`];
      fan[`f${i}`] = ['root'];
    }
    const chainOrder = await startOrder(planOf(chain), 4);
    expect(chainOrder).toEqual(Object.keys(chain));
    const fanOrder = await startOrder(planOf(fan), 4);
    expect(fanOrder[0]).toBe('root');
    expect(new Set(fanOrder).size).toBe(n + 1);
  });

  it('settles at once, without a worker, what `settleAtOnce` takes, and asks its dependents in the same pass', async () => {
    // A failure's downstream: b fails, so c and its 100,000-node tail never start.
    const n = 100_000;
    const deps: Record<string, string[]> = { a: [], b: [], c: ['b', 'a'] };
    for (let i = 0; i < n; i++) deps[`t${i}`] = [i === 0 ? 'c' : `t${i - 1}`];
    const worked: string[] = [];
    const atOnce: string[] = [];
    const failed = new Set<string>();
    await runScheduled(
      planOf(deps, { a: 5, b: 1 }),
      2,
      async (id) => {
        worked.push(id);
        if (id === 'b') failed.add(id);
      },
      (id) => {
        if (!deps[id]!.some((d) => failed.has(d))) return false;
        failed.add(id);
        atOnce.push(id);
        return true;
      },
    );
    expect(worked).toEqual(['a', 'b']);
    expect(atOnce).toHaveLength(n + 1);
    expect(atOnce[0]).toBe('c');
    expect(atOnce[n]).toBe(`t${n - 1}`);
  });

  it('never runs more than `jobs` at once', async () => {
    const deps: Record<string, string[]> = {};
    for (let i = 0; i < 20; i++) deps[`n${i}`] = [];
    let running = 0;
    let most = 0;
    await runScheduled(planOf(deps), 3, async () => {
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, 2));
      running--;
    });
    expect(most).toBe(3);
  });
});
