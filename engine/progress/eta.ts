import { criticalPathPriorities, type SchedulePlan } from '../graph/schedule.js';

/**
 * Time left in a build, from each node's recorded duration (its last build
 * in this checkout). Two bounds, the larger wins: the remaining work spread
 * over the workers, and the longest chain of remaining nodes (workers cannot
 * shorten a chain). Recorded durations are build times; a node restored or up
 * to date takes far less, so the estimate is scaled by how the settled nodes
 * compared with their records. Set up once (O(nodes + edges), a sort), then
 * O(1) amortised per settled node.
 */
export class Eta {
  private readonly expected = new Map<string, number>();
  /** Remaining nodes, longest remaining chain first; `next` skips the settled ones. */
  private readonly byChain: string[];
  private readonly chain: Map<string, number>;
  private readonly settled = new Set<string>();
  private next = 0;
  private remaining = 0;
  private settledExpected = 0;
  private settledActual = 0;

  private constructor(plan: SchedulePlan, private readonly workers: number, unknownMs: number) {
    for (const id of plan.nodes) {
      const ms = plan.duration(id) ?? unknownMs;
      this.expected.set(id, ms);
      this.remaining += ms;
    }
    this.chain = criticalPathPriorities({ ...plan, duration: (id) => this.expected.get(id) });
    this.byChain = [...plan.nodes].sort((a, b) => this.chain.get(b)! - this.chain.get(a)!);
  }

  /** Undefined when no node in scope was ever built here: there is nothing to estimate from. */
  static create(plan: SchedulePlan, workers: number): Eta | undefined {
    let known = 0;
    let sum = 0;
    for (const id of plan.nodes) {
      const ms = plan.duration(id);
      if (ms !== undefined) {
        known++;
        sum += ms;
      }
    }
    // A node never built here is assumed to cost what the known ones do on average.
    return known === 0 ? undefined : new Eta(plan, Math.max(1, workers), sum / known);
  }

  settle(id: string, actualMs: number): void {
    const ms = this.expected.get(id);
    if (ms === undefined || this.settled.has(id)) return;
    this.settled.add(id);
    this.remaining -= ms;
    this.settledExpected += ms;
    this.settledActual += actualMs;
  }

  /**
   * Milliseconds left, given how long each running node has run so far. A
   * running node is being built, so its record holds unscaled; the nodes not
   * started yet are scaled (many will turn out cached). A node running past
   * its record (or past the average, never built here) is assumed to need as
   * long again as it has overrun it: counting it as done made a first build
   * of solidjs/solid say "eta 1s" for a minute.
   */
  remainingMs(runningElapsed: Iterable<[string, number]>): number {
    while (this.next < this.byChain.length && this.settled.has(this.byChain[this.next]!)) this.next++;
    const longest = this.byChain[this.next];
    const scale = this.settledExpected > 0 ? this.settledActual / this.settledExpected : 1;
    let pending = this.remaining;
    let runningLeft = 0;
    let longestRunningLeft = 0;
    let chain = longest === undefined ? 0 : this.chain.get(longest)! * scale;
    for (const [id, elapsed] of runningElapsed) {
      const ms = this.expected.get(id) ?? 0;
      const left = Math.abs(ms - elapsed);
      pending -= ms;
      runningLeft += left;
      longestRunningLeft = Math.max(longestRunningLeft, left);
      if (id === longest) chain = left + (this.chain.get(id)! - ms) * scale;
    }
    return Math.max((pending * scale + runningLeft) / this.workers, chain, longestRunningLeft);
  }
}
