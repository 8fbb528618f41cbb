import { dedupeTraces } from '../../cache/action-cache.js';
import { renderFailure, type Failure } from '../failure.js';
import { depDigestsOf, keyStage, knownKey, recordStage, resolveStage, restoreStage, runStage, storeStage, upToDate } from './node-stages.js';
import type { Parked } from '../graph/schedule.js';
import { awaitCobuilt, awaitForeignNode } from './foreign-node.js';
import type { BuildSession, Keyed } from './session.js';
import type { NodeDecl } from '../buildfile/types.js';
import { localTraces, provenTracedKey, tracedBase, tracedCandidates, tracedKeyAfterRun, type TracedBase } from './traced-stages.js';

/**
 * The digests of a node's deps when it can start; else (a dep failed, was
 * skipped or would run, or the build stopped) the node is settled as
 * skipped and undefined returned. The scheduler asks this first of every
 * node made ready (runScheduled's `settleAtOnce`): a node that cannot start
 * never takes a worker, and a failure's or a dry run's downstream settles in
 * one pass, not one queued task per node.
 */
export function startable(s: BuildSession, node: NodeDecl): Record<string, string> | undefined {
  const deps = depDigestsOf(s, node);
  if ('skip' in deps) s.skipped(node, deps.skip);
  else if (s.stopped) s.skipped(node, 'not started: the build stopped after a failure');
  else return deps.digests;
  return undefined;
}

/**
 * One node, top to bottom: deps → resolve → key (the recorded one when its
 * stamps prove it, else gathered; for a traced node, one per trace it ran
 * with) → up to date? → restore (local, then remote) → run → (a traced
 * node's key, from what it read) → store → record. Each stage is a function of
 * node-stages.ts; this is where a node leaves the pipeline, with exactly one
 * status: skipped, failed, cached (up to date or restored) or built.
 */
export async function processNode(s: BuildSession, id: string, lane: number): Promise<void | Parked> {
  const node = s.byId.get(id)!;
  const nodeStart = performance.now();
  const elapsed = () => Math.round((performance.now() - nodeStart) * 10) / 10;
  s.timeline.startNode(id, lane);

  const digests = startable(s, node);
  if (!digests) return;

  const resolving = await resolveStage(s, node, digests);
  if (isFailure(resolving)) return s.failed(node, resolving, null, resolving.kind === 'user' ? 0 : elapsed());

  const known = s.states.get(id);
  // The keys to look for: one for a declared node; for a traced one, one per trace it was seen to run with.
  let candidates: Keyed[];
  let base: TracedBase | undefined;
  let traces: string[][] = [];
  if (node.traced) {
    const traced = await tracedBase(s, resolving, known?.written ?? []);
    if (isFailure(traced)) return s.failed(node, traced);
    base = traced;
    const proven = provenTracedKey(s, resolving, base, known);
    traces = proven ? [] : localTraces(s, node, base, known);
    candidates = proven ? [proven] : tracedCandidates(s, node, base, traces, known);
  } else {
    const keyed = knownKey(s, resolving, known) ?? (await keyStage(s, resolving, known?.written ?? []));
    if (isFailure(keyed)) return s.failed(node, keyed);
    candidates = [keyed];
  }

  // What agents building one graph together know a node by: its key, or a traced node's weak key (its run decides the rest).
  const shareKey = base?.weakKey ?? candidates[0]!.key;

  /** The node settled from a candidate key: up to date, or restored (local, then remote). */
  const fromCache = async (keyed: Keyed): Promise<boolean> => {
    if (upToDate(s, resolving, keyed, known)) {
      if (!s.opts.dryRun) s.cache.catchUp(id, keyed.key);
      s.cached(node, keyed.key, known.outputDigest, 'up to date', elapsed(), known.log && s.opts.replayLogs ? await s.cache.readLog(known.log) : null);
      return true;
    }
    const restored = await restoreStage(s, resolving, keyed, known);
    if (!restored) return false;
    if (restored.how === 'local' && !s.opts.dryRun) s.cache.catchUp(id, keyed.key);
    // In a cobuild, a result from the remote is some agent's: its summary row says whose.
    if (restored.how === 'remote' && s.cobuild && !s.cobuild.alone) s.madeElsewhere(id, (await s.cobuild.outcome(shareKey))?.agent);
    s.cached(node, keyed.key, restored.outputDigest, restored.how, elapsed(), restored.log);
    return true;
  };

  // Traces other machines ran the node with, from the remote: asked only when this machine's traces found nothing.
  let shared: string[][] = [];
  /**
   * The node settled from the keys known before a run: its candidates, then
   * (traced) one per trace the remote holds that this machine did not. Tried
   * once here, and again by an agent waiting on another's result.
   */
  const fromKnownKeys = async (): Promise<boolean> => {
    for (const keyed of candidates) if (await fromCache(keyed)) return true;
    if (!base || s.opts.dryRun) return false;
    shared = await s.cache.sharedTraces(id, base.weakKey);
    const more = dedupeTraces([...traces, ...shared]).slice(traces.length);
    for (const keyed of tracedCandidates(s, node, base, more, known)) if (await fromCache(keyed)) return true;
    return false;
  };
  // Never cached (turbo's cache: false), or audited (a cached result was never traced): straight to the run.
  if (!(node.noCache && !s.opts.dryRun) && !s.opts.audit) {
    if (await fromKnownKeys()) return;
    if (s.opts.dryRun) return s.skipped(node, 'would run: no cache entry for its key', candidates[0]?.key ?? base?.weakKey);
  }

  /** run → (a traced node's key) → store → record; how it ended, for the agents waiting on it. */
  const build = async (): Promise<BuildEnd> => {
    // A traced node's key is known after the run; until then it runs under everything else it consumes.
    const before = candidates[0] ?? { key: base!.weakKey, ingredients: base!.ingredients, inputStamp: null, context: '', written: known?.written ?? [] };
    const ran = await runStage(s, resolving, before, nodeStart);
    if (isFailure(ran)) return fail(ran);
    if (!ran.outcome.ok) {
      const { error, exitCode } = ran.outcome;
      // The agents of a sharded build waiting for this node's result learn it failed, with its log.
      if (s.opts.shard) await s.cache.publishFailure(id, shareKey, error, ran.log);
      return fail({ kind: 'command', message: error, ...(exitCode !== undefined ? { exitCode } : {}) }, before.key, ran.durationMs, ran.log);
    }
    let keyed = before;
    if (base) {
      const after = await tracedKeyAfterRun(s, resolving, base, ran, before.written, shared);
      if ('why' in after) {
        // Built, but vouched for by nothing: not cached, no state, so the next build runs it again.
        s.addNotes(id, [`not cached: ${after.why}`]);
        const stored = await storeStage(s, resolving, before, ran, false);
        if (isFailure(stored)) return fail(stored, before.key, ran.durationMs, ran.log);
        s.built(node, before.key, stored.outputDigest, ran.durationMs, ran.log);
        return { ok: true };
      }
      keyed = after;
    }
    const stored = await storeStage(s, resolving, keyed, ran);
    if (isFailure(stored)) return fail(stored, keyed.key, ran.durationMs, ran.log);
    // A traced key never holds what the node wrote, so writing undeclared does not change it.
    const rekey = base ? async (written: readonly string[]) => ({ ...keyed, written: [...written] }) : (written: readonly string[]) => keyStage(s, resolving, written);
    const unrecorded = await recordStage(s, resolving, keyed, ran, stored, rekey);
    if (unrecorded) return fail(unrecorded, keyed.key, ran.durationMs, ran.log);
    s.built(node, keyed.key, stored.outputDigest, ran.durationMs, ran.log);
    // Others restore it from the remote cache: it must be there (and a traced node's trace list) before they are told.
    return { ok: true, uploaded: Promise.all([s.cache.uploaded(keyed.key), ...(base ? [s.cache.uploaded(base.weakKey)] : [])]) };
  };
  const fail = (failure: Failure, key: string | null = null, durationMs = 0, log: Buffer | null = null): BuildEnd => {
    s.failed(node, failure, key, durationMs, log);
    return { ok: false, message: renderFailure(failure), log };
  };

  // Another agent's share (--shard): waited for outside the workers, then restored; never run here.
  const owner = s.shardOwner(id);
  if (owner !== undefined) return { parked: awaitForeignNode(s, node, owner, fromKnownKeys, shareKey) };

  // A cobuild: the agent that claims the node builds it, holding its lease; the others wait for its outcome.
  const cobuild = s.cobuild;
  if (cobuild && !cobuild.alone) {
    const claimed = async () => {
      const release = cobuild.hold(shareKey);
      let end: BuildEnd;
      try {
        end = await build();
      } catch (e) {
        release();
        throw e;
      }
      // Told once its result is in the remote cache; meanwhile this agent's workers, and its own dependents, go on.
      s.announce(
        (async () => {
          try {
            if (end.ok) await end.uploaded;
            await cobuild.finish(shareKey, end.ok ? { ok: true, agent: cobuild.agent } : { ok: false, agent: cobuild.agent, message: end.message, log: end.log?.toString('utf8') ?? '' });
          } finally {
            release();
          }
        })(),
      );
    };
    if ((await cobuild.claim(shareKey)) === 'mine') return claimed();
    return { parked: awaitCobuilt(s, node, cobuild, shareKey, fromKnownKeys, claimed) };
  }
  await build();
}

/** How a node's build ended, as a cobuild tells the agents waiting on it (a result once `uploaded` settles). */
type BuildEnd = { ok: true; uploaded?: Promise<unknown> } | { ok: false; message: string; log: Buffer | null };

const isFailure = (v: object): v is Failure => 'kind' in v;

