import path from 'node:path';
import { within } from '../buildfile/paths.js';
import type { NodeDecl } from '../buildfile/types.js';
import type { Failure } from '../failure.js';
import { dedupeTraces } from '../../cache/action-cache.js';
import { OutputSpec } from '../../cache/local/output-spec.js';
import { tracedDeps } from '../keys/ingredients.js';
import { stampUnchanged } from '../keys/stamps.js';
import { contextSignature } from '../keys/up-to-date.js';
import { computeKey, type Ingredients } from '../keys/key.js';
import type { StatCache } from '../keys/hash/stat-cache.js';
import type { NodeState } from '../state/node-states.js';
import { changedDuringRun, observe, traceKeys, unaliased } from '../tracing/trace.js';
import { keyStage, type Ran, type Resolving } from './node-stages.js';
import type { BuildSession, Keyed } from './session.js';

/**
 * The stages of an `inputs: traced` node that differ from a declared one's
 * (Build Systems a la Carte's verifying traces, ccache's manifests): its
 * key holds what its commands read, which only a run can say. So the build
 * observes the traces it has seen the node run with, its own last one
 * first, and looks up the key each gives; only when none is up to date or
 * in the cache does it run the node, traced, and key it on what it read.
 */

/** Everything the node consumes but what its commands read: what the traces recorded for it are filed under. */
export interface TracedBase {
  weakKey: string;
  ingredients: Ingredients;
}

export async function tracedBase(s: BuildSession, r: Resolving, written: readonly string[]): Promise<TracedBase | Failure> {
  const keyed = await keyStage(s, r, written);
  if ('kind' in keyed) return keyed;
  // Deps by name only: what the commands read of their outputs is observed with the rest.
  const ingredients: Ingredients = { ...(keyed.ingredients as Ingredients), deps: tracedDeps(r.depDigests), inputs: {}, traced: true };
  return { weakKey: computeKey(ingredients), ingredients };
}

/**
 * A traced node's ingredients (everything else it consumes, its deps by
 * name only, and the paths of a trace as they are now) and the stamp of
 * those paths.
 */
export function tracedIngredients(node: NodeDecl, gathered: Ingredients, keys: readonly string[], root: string, stats: StatCache): { ingredients: Ingredients; stamp: string | null } {
  const own = OutputSpec.of(node.outputs);
  const nodeDir = path.join(root, node.dir);
  const isOwnOutput = (rel: string) => {
    const inNode = within(nodeDir, path.resolve(root, rel));
    return !!inNode && own.isProduct(inNode);
  };
  const { observation, stamp } = observe(root, node.dir, keys, stats, isOwnOutput);
  return { ingredients: { ...gathered, deps: tracedDeps(gathered.deps), inputs: observation, traced: true }, stamp };
}

/** The node keyed by the paths of a trace as they are now, stamped so the next build can prove it by stats. */
function keyedBy(s: BuildSession, node: NodeDecl, base: TracedBase, keys: readonly string[], written: readonly string[]): Keyed {
  const { ingredients, stamp } = tracedIngredients(node, base.ingredients, keys, s.ws.root, s.stats);
  return { key: computeKey(ingredients), ingredients, inputStamp: stamp, context: contextSignature(node, ingredients), written: [...written] };
}

/**
 * The recorded key, proven by stats: everything but the reads as recorded
 * (the context, which holds the resolution and toolchain versions too), and
 * every path of the last trace stats as it did. Spares observing and
 * digesting the trace, for traced nodes the stamp settling before the
 * build cannot take (a rule with a resolve step, toolchains).
 */
export function provenTracedKey(s: BuildSession, r: Resolving, base: TracedBase, known: NodeState | undefined): Keyed | undefined {
  if (!known || known.inputStamp === null || contextSignature(r.node, base.ingredients) !== known.context) return undefined;
  if (!stampUnchanged(r.nodeDir, known.inputStamp, 'stat')) return undefined;
  const ingredients = s.nodeStates.ingredientsJson(r.node.id);
  return ingredients === undefined ? undefined : { key: known.key, ingredients, inputStamp: known.inputStamp, context: known.context, written: [...known.written] };
}

/** The traces this machine knows the node ran with: its last run's (from its state) first, then those the local cache recorded. */
export function localTraces(s: BuildSession, node: NodeDecl, base: TracedBase, known: NodeState | undefined): string[][] {
  const recorded = known ? s.nodeStates.ingredients(node.id) : undefined;
  return dedupeTraces([...(recorded?.traced ? [Object.keys(recorded.inputs)] : []), ...s.cache.traces(base.weakKey)]);
}

/** The keys to try, one per trace, each observed as the paths are now. */
export function tracedCandidates(s: BuildSession, node: NodeDecl, base: TracedBase, traces: readonly string[][], known: NodeState | undefined): Keyed[] {
  return traces.map((keys) => keyedBy(s, node, base, keys, known?.written ?? []));
}

/**
 * The key of what a traced run read, and its trace filed for the next
 * builds, here and on the remote (merged with the `shared` traces it held);
 * or why the run cannot vouch for a result (then it is not cached: the next
 * build runs the node again).
 */
export async function tracedKeyAfterRun(s: BuildSession, r: Resolving, base: TracedBase, ran: Ran, written: readonly string[], shared: readonly string[][]): Promise<Keyed | { why: string }> {
  const traced = ran.traced!;
  const aliases = ran.outcome.traceAliases ?? [];
  const keys = traceKeys(traced.accesses, s.ws.root, r.node, aliases);
  if (!Array.isArray(keys)) return keys;
  // What the command itself rewrote changed during the run by its own hand (a test's scratch writes are the tree's).
  const ownWrites = new Set([...traced.accesses.writes].map((w) => unaliased(w, aliases)));
  const changed = changedDuringRun(s.ws.root, keys, traced.startedAt, ownWrites);
  if (changed !== undefined) return { why: `'${changed}', which it read, changed while it ran` };
  await s.cache.rememberTrace(r.node.id, base.weakKey, keys, shared);
  return keyedBy(s, r.node, base, keys, written);
}
