import { setTimeout as sleep } from 'node:timers/promises';
import type { NodeDecl } from '../buildfile/types.js';
import type { BuildSession } from './session.js';

/** Clocks of CI agents disagree a little: a failure this much older than the wait still counts as this build's. */
const CLOCK_SLACK_MS = 60_000;
const FIRST_POLL_MS = 250;
const MAX_POLL_MS = 2_000;

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
