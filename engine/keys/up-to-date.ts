import path from 'node:path';
import type { NodeDecl } from '../buildfile/types.js';
import { outputsUnchanged, stampUnchanged } from './stamps.js';
import type { NodeState } from '../state/node-states.js';
import { declaredIngredients, tracedDeps } from './ingredients.js';
import { computeKey, type Ingredients } from './key.js';
import { expandInputs, inputsUnchangedByStamp } from './hash/inputs.js';
import type { StatCache } from './hash/stat-cache.js';
import type { Rule } from '../../rules/rule.js';
import { topoOrder } from '../graph/topo-order.js';

/** Bump when what a stamp or a context signature covers changes (e.g. how inputs are walked). */
const STAMP_FORMAT = 1;

/**
 * Everything a key was made of except the input digests, plus the input
 * patterns that chose the files: if this and the input stamp are unchanged,
 * the key is unchanged. Plain JSON in a fixed field order, not the canonical
 * form: a spurious difference (a reordered attribute map) only costs one
 * slow check, which then recomputes the real key.
 */
export function contextSignature(node: NodeDecl, ingredients: ContextParts): string {
  const i = ingredients;
  return JSON.stringify([
    STAMP_FORMAT,
    node.inputs.map((p) => [p.glob, p.required]),
    i.rule, i.dir, i.attrs, i.outputs, i.deps, i.env, i.secretEnv, i.toolchain ?? NOTHING, i.resolved ?? NOTHING, i.uses ?? NOTHING,
  ]);
}

/**
 * What a context signature is made of: a key's ingredients but its inputs.
 * A stamp-checkable node has no toolchain, resolve step or uses; left out,
 * they read as the empty records they are (spreading them in cost a
 * 100,000-node no-op 0.17 s).
 */
export type ContextParts = Omit<Ingredients, 'inputs' | 'toolchain' | 'resolved' | 'uses'> & Partial<Pick<Ingredients, 'toolchain' | 'resolved' | 'uses'>>;

const NOTHING = Object.freeze({});

/**
 * Whether a node can be proven up to date from stats alone, before any rule
 * hook runs: nodes whose key depends on a resolve step, dependency metadata
 * or toolchain versions take the full path; uncached nodes always run.
 */
export function stampCheckable(node: NodeDecl, rule: Rule): boolean {
  return !rule.resolve && node.uses.length === 0 && node.toolchain.length === 0 && !node.noCache;
}

/**
 * The context signature of a stamp-checkable node with these deps' output
 * digests. A traced node's names its deps only: what it read of their
 * outputs is in its input stamp.
 */
function declaredContext(node: NodeDecl, depDigests: Record<string, string>, env: NodeJS.ProcessEnv): string {
  const deps = node.traced ? tracedDeps(depDigests) : depDigests;
  return contextSignature(node, declaredIngredients(node, deps, env));
}

/**
 * Whether a stamp-checkable node's key is still the recorded one, without
 * hashing: its declared context (deps' output digests included) and its
 * input stamp as this checkout last left them. Costs a stat per input and
 * directory. Says nothing about the outputs (see upToDateByStamp).
 */
export function keyUnchangedByStamp(
  root: string,
  node: NodeDecl,
  known: NodeState | undefined,
  depDigests: Record<string, string>,
  env: NodeJS.ProcessEnv,
): known is NodeState & { inputStamp: string; context: string } {
  if (!known || known.inputStamp === null || known.context === null) return false;
  if (declaredContext(node, depDigests, env) !== known.context) return false;
  // A traced node's stamp is of the paths its commands used, checked as they are (no tolerance: a listed directory's entries count).
  return node.traced ? stampUnchanged(path.join(root, node.dir), known.inputStamp, 'stat') : inputsUnchangedByStamp(path.join(root, node.dir), node, known.inputStamp, known.written);
}

/**
 * The up-to-date check without hashing: the key unchanged by stamp, and
 * the output fingerprint as this checkout last left it. Only for
 * stampCheckable nodes. Costs a stat per input, directory and output.
 */
export function upToDateByStamp(
  root: string,
  node: NodeDecl,
  known: NodeState | undefined,
  depDigests: Record<string, string>,
  env: NodeJS.ProcessEnv,
  vouched = false,
): boolean {
  if (vouched) return known !== undefined && known.inputStamp !== null && known.context !== null && declaredContext(node, depDigests, env) === known.context;
  return keyUnchangedByStamp(root, node, known, depDigests, env) && outputsUnchanged(path.join(root, node.dir), known.fingerprint);
}

export interface StampSettleHooks {
  /** Node id → key vouched for by the daemon (no change touched it since it proved it): only the context is checked. */
  vouched?: ReadonlyMap<string, string> | undefined;
  /** Conditions beyond the stamps, e.g. "no upload owed for this key". */
  allowed(node: NodeDecl, known: NodeState): boolean;
  /** A node proven up to date; `startedAt` is performance.now() when its check began. */
  settled(node: NodeDecl, known: NodeState, startedAt: number): void;
  /** Asked when the stamps do not prove a node: a second, costlier way to prove it (the daemon hashes). */
  fallback?(node: NodeDecl, known: NodeState, depDigests: Record<string, string>): boolean;
}

/**
 * Proves nodes up to date by their stamps, in dependency order: a node
 * qualifies only if all its deps did (their recorded output digests are
 * then the ones its key was made with). Returns the proven ids.
 */
export function settleByStamps(
  ids: Iterable<string>,
  byId: ReadonlyMap<string, NodeDecl>,
  states: ReadonlyMap<string, NodeState>,
  root: string,
  env: NodeJS.ProcessEnv,
  rules: ReadonlyMap<string, Rule>,
  hooks: StampSettleHooks,
): Set<string> {
  /** The proven nodes' recorded output digests: a node is here if and only if it was proven. */
  const digests = new Map<string, string>();
  // Nothing was ever built here (a fresh checkout, a first dry run): nothing to prove, and no order worth a walk.
  if (states.size === 0) return new Set();
  // Deps before dependents, iteratively: a node qualifies only if all its deps did.
  for (const id of topoOrder(ids, (id) => byId.get(id)!.deps.map((d) => d.id))) {
    const node = byId.get(id)!;
    const known = states.get(id);
    let ok = known !== undefined && stampCheckable(node, rules.get(node.rule)!) && node.deps.every((d) => digests.has(d.id));
    if (ok && known) {
      const startedAt = performance.now();
      const depDigests: Record<string, string> = {};
      for (const d of node.deps) depDigests[d.id] = digests.get(d.id)!;
      ok =
        hooks.allowed(node, known) &&
        (upToDateByStamp(root, node, known, depDigests, env, hooks.vouched?.get(id) === known.key) ||
          (hooks.fallback?.(node, known, depDigests) ?? false));
      if (ok) {
        digests.set(id, known.outputDigest);
        hooks.settled(node, known, startedAt);
      }
    }
  }
  return new Set(digests.keys());
}

/**
 * The slow proof of a stamp-checkable node: hash its inputs (through the
 * stat cache), recompute its key and compare it with the recorded one, and
 * check its outputs. Returns the fresh stamp and context (the stamp is null
 * while an input is too recent to trust), or undefined when the node is not
 * up to date. `products`: what its inputs leave out (write-scan.ts excludedProducts).
 */
export function proveByHashing(
  root: string,
  node: NodeDecl,
  known: NodeState,
  depDigests: Record<string, string>,
  env: NodeJS.ProcessEnv,
  stats: StatCache,
  products: readonly string[] = known.written,
): { inputStamp: string | null; context: string } | undefined {
  const inputs = expandInputs(root, node, stats, products);
  if (inputs.unmatched.length > 0) return undefined;
  const ingredients: Ingredients = {
    ...declaredIngredients(node, depDigests, env), inputs: inputs.files, toolchain: {}, resolved: {}, uses: {},
  };
  if (computeKey(ingredients) !== known.key || !outputsUnchanged(path.join(root, node.dir), known.fingerprint)) return undefined;
  return { inputStamp: inputs.stamp, context: contextSignature(node, ingredients) };
}
