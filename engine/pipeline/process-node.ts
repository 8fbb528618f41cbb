import type { Failure } from '../failure.js';
import { depDigestsOf, keyStage, knownKey, recordStage, resolveStage, restoreStage, runStage, storeStage, upToDate } from './node-stages.js';
import type { BuildSession } from './session.js';

/**
 * One node, top to bottom: deps → resolve → key (the recorded one when its
 * stamps prove it, else gathered) → up to date? → restore
 * (local, then remote) → run → store → record. Each stage is a function of
 * node-stages.ts; this is where a node leaves the pipeline, with exactly one
 * status: skipped, failed, cached (up to date or restored) or built.
 */
export async function processNode(s: BuildSession, id: string, lane: number): Promise<void> {
  const node = s.byId.get(id)!;
  const nodeStart = performance.now();
  const elapsed = () => Math.round((performance.now() - nodeStart) * 10) / 10;
  s.timeline.startNode(id, lane);

  const deps = depDigestsOf(s, node);
  if ('skip' in deps) return s.skipped(node, deps.skip);
  if (s.stopped) return s.skipped(node, 'not started: the build stopped after a failure');

  const resolving = await resolveStage(s, node, deps.digests);
  if (isFailure(resolving)) return s.failed(node, resolving, null, resolving.kind === 'user' ? 0 : elapsed());

  const known = s.states.get(id);
  const keyed = knownKey(s, resolving, known) ?? (await keyStage(s, resolving, known?.written ?? []));
  if (isFailure(keyed)) return s.failed(node, keyed);
  const { key } = keyed;

  // Never cached (turbo's cache: false), or audited (a cached result was never traced): straight to the run.
  if (!(node.noCache && !s.opts.dryRun) && !s.opts.audit) {
    if (upToDate(s, resolving, keyed, known)) {
      if (!s.opts.dryRun) s.cache.catchUp(id, key);
      return s.cached(node, key, known.outputDigest, 'up to date', elapsed(), known.log ? await s.cache.readLog(known.log) : null);
    }
    const restored = await restoreStage(s, resolving, keyed, known);
    if (restored) {
      if (restored.how === 'local' && !s.opts.dryRun) s.cache.catchUp(id, key);
      return s.cached(node, key, restored.outputDigest, restored.how, elapsed(), restored.log);
    }
    if (s.opts.dryRun) return s.skipped(node, 'would run: no cache entry for its key', key);
  }

  const ran = await runStage(s, resolving, keyed, nodeStart);
  if (isFailure(ran)) return s.failed(node, ran);
  if (!ran.outcome.ok) {
    const { error, exitCode } = ran.outcome;
    return s.failed(node, { kind: 'command', message: error, ...(exitCode !== undefined ? { exitCode } : {}) }, key, ran.durationMs, ran.log);
  }

  const stored = await storeStage(s, resolving, keyed, ran);
  if (isFailure(stored)) return s.failed(node, stored, key, ran.durationMs, ran.log);

  const unrecorded = await recordStage(s, resolving, keyed, ran, stored, (written) => keyStage(s, resolving, written));
  if (unrecorded) return s.failed(node, unrecorded, key, ran.durationMs, ran.log);
  s.built(node, key, stored.outputDigest, ran.durationMs, ran.log);
}

const isFailure = (v: object): v is Failure => 'kind' in v;
