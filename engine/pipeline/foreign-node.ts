import { setTimeout as sleep } from 'node:timers/promises';
import type { NodeDecl } from '../buildfile/types.js';
import type { Cobuild } from '../cobuild/coordinator.js';
import type { BuildSession } from './session.js';

/** Clocks of CI agents disagree a little: a failure this much older than the wait still counts as this build's. */
const CLOCK_SLACK_MS = 60_000;
const FIRST_POLL_MS = 250;
const MAX_POLL_MS = 2_000;
/** Polls after a node's builder recorded success before its result, still not in the remote cache, is built here. */
const RESULT_POLLS = 4;

/**
 * A node another agent builds (`--shard`): waited for, without a worker,
 * until its result reaches the remote cache (then restored, as any remote
 * hit), its failure is published (then it fails here too, with the other
 * agent's error and log), the wait times out (failed, saying so) or the
 * build is cancelled. `fromCache` tries the node's keys; `failureKey` is
 * the key its owner publishes a failure under.
 */
export async function awaitForeignNode(
  s: BuildSession,
  node: NodeDecl,
  owner: string,
  fromCache: () => Promise<boolean>,
  failureKey: string,
): Promise<void> {
  const waitMs = s.opts.shard!.waitMs;
  const deadline = performance.now() + waitMs;
  const since = Date.now() - CLOCK_SLACK_MS;
  for (let delay = FIRST_POLL_MS; ; delay = Math.min(delay * 2, MAX_POLL_MS)) {
    if (s.opts.signal.aborted) return s.skipped(node, 'not started: the build was interrupted');
    s.madeElsewhere(node.id, owner);
    if (await fromCache()) return;
    const failure = await s.cache.remoteFailure(node.id, failureKey);
    if (failure && failure.at >= since) {
      const log = failure.log ? Buffer.from(failure.log) : null;
      return s.failed(node, { kind: 'command', message: `failed on ${owner}: ${failure.message}` }, failureKey, 0, log);
    }
    // Not this build's to give up silently: the node is missing, so the build fails, and its dependents are skipped.
    if (performance.now() >= deadline) {
      return s.failed(node, { kind: 'cache', message: `${owner} builds it, and its result did not reach the remote cache within ${Math.round(waitMs / 1000)} s` }, failureKey);
    }
    try {
      await sleep(delay, undefined, { signal: s.opts.signal });
    } catch {
      // interrupted: the loop says so
    }
  }
}

/**
 * A node another agent of a cobuild claimed: waited for, without a worker,
 * until its result can be restored, its builder records a failure (failed
 * here too, with that agent's error and log) or its lease lapses (the agent
 * was killed, or its result never reached the remote cache): then this agent
 * claims it and builds it (`claimed`), beside its workers. No deadline: a
 * lease that is not renewed expires within seconds.
 */
export async function awaitCobuilt(
  s: BuildSession,
  node: NodeDecl,
  cobuild: Cobuild,
  shareKey: string,
  fromCache: () => Promise<boolean>,
  claimed: () => Promise<void>,
): Promise<void> {
  // Woken by the outcome's message; the polls (a third of a lease apart at most) only catch a lapsed lease.
  for (let delay = FIRST_POLL_MS, polls = 0; ; delay = Math.min(delay * 2, cobuild.pollMs), polls++) {
    if (s.opts.signal.aborted) return s.skipped(node, 'not started: the build was interrupted');
    const outcome = await cobuild.outcome(shareKey);
    // Whose result a restore brings: the agent that recorded it, or (its upload can land first) the one still holding it.
    s.madeElsewhere(node.id, outcome?.agent ?? (await cobuild.holder(shareKey)));
    // The remote cache is asked once an outcome says the result is there (and once at first: it may have landed already).
    if ((outcome?.ok || polls === 0) && (await fromCache())) return;
    if (outcome && !outcome.ok) {
      return s.failed(node, { kind: 'command', message: `failed on ${outcome.agent}: ${outcome.message}` }, shareKey, 0, outcome.log ? Buffer.from(outcome.log) : null);
    }
    // Nobody holds it: its builder died (the lease expired), or finished but its result is not to be had. Build it here.
    const missing = outcome !== undefined && polls >= RESULT_POLLS;
    if ((outcome === undefined || missing) && (await cobuild.claim(shareKey, missing)) === 'mine') {
      s.addNotes(node.id, [missing ? `built here: ${outcome.agent} built it, but its result is not in the remote cache` : 'built here: the agent that claimed it stopped']);
      s.madeElsewhere(node.id, undefined);
      return claimed();
    }
    await cobuild.news(shareKey, delay, s.opts.signal);
  }
}
