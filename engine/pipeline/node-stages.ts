import fs from 'node:fs';
import path from 'node:path';
import { isWithin } from '../buildfile/paths.js';
import { fieldPosition } from '../buildfile/near-pos.js';
import type { NodeDecl } from '../buildfile/types.js';
import { formatDiagnostic, type Diagnostic } from '../diagnostic.js';
import type { Failure } from '../failure.js';
import { outputsUnchanged } from '../keys/stamps.js';
import type { NodeState } from '../state/node-states.js';
import { gatherIngredients } from '../keys/ingredients.js';
import { computeKey } from '../keys/key.js';
import { depViews, resolveNode, type Resolved } from './node-context.js';
import { auditOutcome, readTrace, traceFile } from './trace-run.js';
import type { FileAccesses } from '../tracing/accesses.js';
import { nodeEnv } from './node-env.js';
import { contextSignature, keyUnchangedByStamp, stampCheckable } from '../keys/up-to-date.js';
import { outputGlobsOf, scanWrites, type Writes } from '../keys/write-scan.js';
import { listSome } from '../report/format.js';
import { rules } from '../../rules/index.js';
import type { DepView, NodeContext, RuleOutcome } from '../../rules/rule.js';
import type { ActionEntry } from '../../cache/local/action-index.js';
import { OutputSpec } from '../../cache/local/output-spec.js';
import { entryOutputDigest, outputSpec, removeOutputs, UnsafeOutputError } from '../../cache/local/outputs.js';
import type { BuildSession, CachedHow, Keyed } from './session.js';

/**
 * The stages one node goes through, in order (process-node.ts strings them
 * together): deps → resolve → key → up to date? → restore → run → store →
 * record. Each takes the build session and what the stage before produced,
 * and returns what the next needs, or why the node stops here.
 */

/** A node ready for its key: its deps' output digests, its rule context and what its rule resolved. */
export interface Resolving {
  node: NodeDecl;
  nodeDir: string;
  depDigests: Record<string, string>;
  ctx: NodeContext;
  resolved: Resolved;
}

/** deps: what each dependency's outputs hash to, or why the node cannot run. */
export function depDigestsOf(s: BuildSession, node: NodeDecl): { digests: Record<string, string> } | { skip: string } {
  const digests: Record<string, string> = {};
  for (const dep of node.deps) {
    const d = s.settled.get(dep.id)!;
    if (d.outputDigest === null) {
      if (d.summary.status === 'skipped' && s.opts.dryRun) return { skip: `would run: dependency '${dep.id}' would run` };
      return { skip: `dependency '${dep.id}' ${d.summary.status === 'failed' ? 'failed' : 'was skipped'}` };
    }
    digests[dep.id] = d.outputDigest;
  }
  return { digests };
}

/** resolve: the rule's step before the key (a git ref's tree, normalised patches), its metadata for dependents. */
export async function resolveStage(s: BuildSession, node: NodeDecl, depDigests: Record<string, string>): Promise<Resolving | Failure> {
  const nodeDir = path.join(s.ws.root, node.dir);
  const override = s.opts.overrides.get(node.id);
  // The transitive dependency views cost a walk of the graph: built only when
  // a rule looks at them (resolve, uses, a run), never on a plain no-op.
  let deps: Map<string, DepView> | undefined;
  const ctx: NodeContext = {
    node,
    root: s.ws.root,
    cwd: nodeDir,
    env: s.baseEnv,
    signal: s.opts.signal,
    get deps() {
      return (deps ??= depViews(s.ws, node, s.meta, s.byId));
    },
    cacheDir: s.opts.cacheDir,
    offline: s.opts.offline,
    ...(override !== undefined ? { override } : {}),
  };
  const resolved = await resolveNode(ctx, rules.get(node.rule)!);
  if (!resolved.ok) return 'diagnostic' in resolved ? { kind: 'user', diagnostic: resolved.diagnostic } : { kind: 'command', message: resolved.error };
  s.meta.set(node.id, resolved.value.resolution?.meta ?? {});
  s.addNotes(node.id, resolved.value.resolution?.notes ?? []);
  return { node, nodeDir, depDigests, ctx, resolved: resolved.value };
}

/**
 * key: every ingredient gathered (input digests, deps' outputs, env,
 * toolchains, the resolution), hashed. `written`: the paths the node
 * created undeclared, which are not its inputs.
 */
export async function keyStage(s: BuildSession, r: Resolving, written: readonly string[]): Promise<Keyed | Failure> {
  const gathered = await gatherIngredients(s.ws, r.node, r.depDigests, s.stats, s.toolchains, s.opts.env, r.resolved, s.productsFor(r.node, written));
  // A missing node dir surfaces as unmatched inputs: name the real cause.
  if ('error' in gathered) return { kind: 'user', diagnostic: fs.existsSync(r.nodeDir) ? gathered.error : missingDir(r.node) };
  const { ingredients } = gathered;
  return { key: computeKey(ingredients), ingredients, inputStamp: gathered.inputStamp, context: contextSignature(r.node, ingredients), written: [...written] };
}

/**
 * key, the short way: a stamp-checkable node whose inputs and declared
 * context (its deps' actual output digests included) are as this checkout
 * recorded them has the recorded key and ingredients, so nothing is walked
 * or hashed. The no-op proof without its output check: what a node whose
 * outputs were deleted (a restore, `git clean`) needs before its restore.
 */
export function knownKey(s: BuildSession, r: Resolving, known: NodeState | undefined): Keyed | undefined {
  if (!stampCheckable(r.node, rules.get(r.node.rule)!) || !keyUnchangedByStamp(s.ws.root, r.node, known, r.depDigests, s.opts.env)) return undefined;
  const ingredients = s.nodeStates.ingredientsJson(r.node.id);
  if (ingredients === undefined) return undefined;
  return { key: known.key, ingredients, inputStamp: known.inputStamp, context: known.context, written: [...known.written] };
}

/**
 * up to date?: this checkout's outputs are still what kiln left for this
 * key. Found the slow way (a file touched but unchanged, a stamp too fresh
 * to trust), the node is restamped so the next build finds it the fast way.
 */
export function upToDate(s: BuildSession, r: Resolving, keyed: Keyed, known: NodeState | undefined): known is NodeState {
  if (!known || known.key !== keyed.key || !outputsUnchanged(r.nodeDir, known.fingerprint)) return false;
  if (!s.opts.dryRun && (known.inputStamp !== keyed.inputStamp || known.context !== keyed.context)) {
    s.nodeStates.restamp(r.node.id, keyed.inputStamp, keyed.context);
  }
  return true;
}

/** restore: the outputs of an entry for this key, local or remote, written into the node dir; undefined on a miss. */
export async function restoreStage(
  s: BuildSession,
  r: Resolving,
  keyed: Keyed,
  known: NodeState | undefined,
): Promise<{ outputDigest: string; log: Buffer | null; how: CachedHow } | undefined> {
  const hit = await s.cache.get(r.node.id, keyed.key, s.opts.dryRun);
  if (!hit) return undefined;
  // What the node last wrote outside its declared outputs is not in the entry: gone from the tree, only a run brings it back.
  const carried = new Set(hit.entry.undeclared);
  if ((known?.written ?? []).some((w) => !carried.has(w) && !fs.existsSync(path.join(r.nodeDir, w)))) return undefined;
  if (s.opts.dryRun) return { outputDigest: hit.entry.outputDigest, log: null, how: hit.source };
  s.nodeStates.forget(r.node.id);
  const restored = await s.cache.restore(r.node.id, keyed.key, hit, r.nodeDir, r.node.outputs, s.tmpDir, new Set(known?.written), s.opts.replayLogs);
  if (!restored) return undefined;
  s.timeline.addBytes(r.node.id, outputBytes(hit.entry));
  // What the entry restored undeclared, and what this checkout's builds created, stay out of the inputs.
  const undeclared = hit.entry.undeclared ?? [];
  const written = [...new Set([...keyed.written, ...undeclared])].sort();
  s.saveState(r.node, r.nodeDir, { ...keyed, written }, hit.entry.outputDigest, [...r.node.outputs, ...written], hit.entry.log?.digest ?? null, hit.entry.durationMs);
  return { outputDigest: hit.entry.outputDigest, log: restored.log, how: hit.source };
}

/** What a run left: the rule's outcome, its captured log, and what it wrote into its dir undeclared (write-scanned nodes). */
export interface Ran {
  outcome: RuleOutcome;
  log: Buffer | null;
  writes: Writes | undefined;
  durationMs: number;
  /** What the commands did to the filesystem, when they ran traced; and when the run began (Date.now()). */
  traced?: { accesses: FileAccesses; startedAt: number };
}

/**
 * run: the node's outputs (declared and undeclared) removed, the rule's
 * command run with the node's env, the node dir scanned before and after
 * where the node asks for it.
 */
export async function runStage(s: BuildSession, r: Resolving, keyed: Keyed, nodeStart: number): Promise<Ran | Failure> {
  const { node, nodeDir, ctx } = r;
  // Checked only before running: on the up-to-date path the outputs' stamp already proves the dir is there.
  if (!fs.existsSync(nodeDir)) return { kind: 'user', diagnostic: missingDir(node) };
  s.nodeStates.forget(node.id);
  // Undeclared outputs are removed like declared ones: a build must not find a previous build's leftovers.
  removeOutputs(nodeDir, outputSpec([...node.outputs, ...keyed.written]));
  s.report({ type: 'node-start', id: node.id });
  const chunks: Buffer[] = [];
  const depDirs = new Map([...ctx.deps].map(([depId, v]) => [depId, v.dir]));
  const tracing = s.opts.audit !== undefined || node.traced === true;
  if (tracing) {
    const tracer = (await import('../tracing/strace.js')).straceAvailable();
    if (tracer !== true) return { kind: 'user', diagnostic: { pos: fieldPosition(node, 'inputs'), message: `node '${node.id}' runs traced, but ${tracer}`, node: node.id } };
  }
  const trace = tracing ? traceFile(ctx.root, node.id) : undefined;
  const startedAt = Date.now();
  const run = () =>
    s.timeline.timed(node.id, 'run', () =>
      rules.get(node.rule)!.run({
        ...ctx,
        env: nodeEnv(node, s.opts.env, r.resolved.uses, depDirs),
        log: { write: (_stream, chunk) => chunks.push(Buffer.from(chunk)) },
        ...(r.resolved.resolution ? { resolution: r.resolved.resolution } : {}),
        ...(trace ? { trace } : {}),
      }),
    );
  const scanned = node.writeScan ? await scanWrites(nodeDir, scanSkip(node), run) : { outcome: await run(), writes: undefined };
  const { writes } = scanned;
  let { outcome } = scanned;
  const accesses = trace ? readTrace(trace, ctx.cwd, ctx.root) : undefined;
  if (accesses && s.opts.audit) {
    const audited = auditOutcome(outcome, accesses, { mode: s.opts.audit, root: ctx.root, node, deps: ctx.deps });
    outcome = audited.outcome;
    s.addNotes(node.id, audited.notes);
  }
  s.addNotes(node.id, outcome.notes ?? []);
  if (node.writeScan) s.addNotes(node.id, depOutputsRewritten(s, r));
  return {
    outcome,
    writes,
    log: chunks.length > 0 ? Buffer.concat(chunks) : null,
    durationMs: Math.round((performance.now() - nodeStart) * 10) / 10,
    ...(accesses ? { traced: { accesses, startedAt } } : {}),
  };
}

/** What store made of a run: the entry (cached unless the node says not), what dependents hash, and the output roots. */
export interface Stored {
  entry: ActionEntry;
  outputDigest: string;
  outputRoots: string[];
  /** The node wrote files no output declares (its notes say which). */
  wroteUndeclared: boolean;
}

/**
 * store: the outputs collected into the local store (a node declaring none
 * stores what it created), the entry unsealed when they may not hold all
 * the node wrote, put in the cache unless the node is never cached (or the
 * caller says not: a traced run whose trace vouches for nothing).
 */
export async function storeStage(s: BuildSession, r: Resolving, keyed: Keyed, ran: Ran, cache = true): Promise<Stored | Failure> {
  const { node, nodeDir } = r;
  const undeclared = node.outputs.length === 0 ? (ran.writes?.created ?? []) : [];
  const outputRoots = [...node.outputs, ...undeclared];
  const storeStart = s.timeline.now();
  let collected;
  try {
    collected = await s.cache.collect(nodeDir, outputRoots, node.lenientOutputs === true);
  } catch (e) {
    if (e instanceof UnsafeOutputError) return { kind: 'command', message: `unsafe output: ${e.message}` };
    // Writing blobs failed (ENOSPC, EACCES, EIO): the cache's fault, not the command's.
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== undefined) return { kind: 'cache', message: `storing the outputs failed: ${(e as Error).message}` };
    throw e;
  }
  if (!collected.ok) return { kind: 'command', message: `declared output${collected.missing.length > 1 ? 's' : ''} not produced: ${collected.missing.join(', ')}` };
  if (collected.missing.length > 0) {
    const none = collected.entry.outputs.length === 0;
    s.addNotes(node.id, [`${none ? 'produced none of its declared outputs' : 'did not produce declared outputs'}: ${collected.missing.join(', ')}`]);
  }
  const writes = ran.writes;
  const wroteUndeclared = writes !== undefined && (writes.created.length > 0 || writes.modified.length > 0);
  if (wroteUndeclared) s.addNotes(node.id, undeclaredWriteNotes(node, nodeDir, writes));
  const unsealed = node.outputs.length === 0 || wroteUndeclared;
  const outputDigest = unsealed ? entryOutputDigest(collected.entry.outputs, keyed.key) : collected.entry.outputDigest;
  const logRef = ran.log ? await s.cache.putLog(ran.log) : null;
  const entry: ActionEntry = {
    ...collected.entry,
    outputDigest,
    log: logRef,
    durationMs: ran.durationMs,
    ...(unsealed ? { unsealed: true as const } : {}),
    ...(undeclared.length > 0 ? { undeclared } : {}),
  };
  if (cache && !node.noCache) {
    s.cache.put(node.id, keyed.key, entry);
    s.timeline.span(node.id, 'store', storeStart);
    s.timeline.addBytes(node.id, outputBytes(entry));
  }
  return { entry, outputDigest, outputRoots, wroteUndeclared };
}

/**
 * record: the node's state for the next build. The tree as the command left
 * it is what the next build must find up to date: when the command wrote
 * into its own inputs, their new digests (and the created paths, now
 * excluded) make the state's key (`rekey` gathers them again).
 */
export async function recordStage(
  s: BuildSession,
  r: Resolving,
  keyed: Keyed,
  ran: Ran,
  stored: Stored,
  rekey: (written: readonly string[]) => Promise<Keyed | Failure>,
): Promise<Failure | undefined> {
  if (r.node.noCache) return undefined;
  let after: Keyed | Failure = keyed;
  // What this run created (the last run's products were removed before it, so what it made again is here too).
  if (stored.wroteUndeclared || keyed.written.length > 0) after = await rekey([...(ran.writes?.created ?? [])].sort());
  if ('kind' in after) return after.kind === 'user' ? { kind: 'command', message: `after it ran: ${formatDiagnostic(after.diagnostic)}` } : after;
  // The fingerprint covers what the node wrote undeclared too: if that goes, the node runs again (restore cannot bring it back).
  const stamped = [...new Set([...stored.outputRoots, ...after.written])];
  s.saveState(r.node, r.nodeDir, after, stored.outputDigest, stamped, stored.entry.log?.digest ?? null, ran.durationMs);
  return undefined;
}

/**
 * A script that rewrites a dependency's outputs (a `prebuild` running
 * another package's build) is a write the write scan cannot see: the
 * dependency's outputs no longer stat as kiln left them. Said, so the
 * next build's restore of that dependency is not a surprise.
 */
function depOutputsRewritten(s: BuildSession, r: Resolving): string[] {
  const rewritten = [...r.ctx.deps.keys()].filter((id) => {
    const state = s.states.get(id);
    const dep = s.byId.get(id)!;
    return state !== undefined && !outputsUnchanged(path.join(s.ws.root, dep.dir), state.fingerprint);
  });
  if (rewritten.length === 0) return [];
  return [`rewrote the outputs of ${listSome(rewritten, 3)}, which it depends on (a pre-script building another package?): the next build restores them; let kiln build them instead`];
}

function outputBytes(entry: ActionEntry): number {
  return entry.outputs.reduce((sum, o) => sum + (o.size ?? 0), 0);
}

/** What a node wrote that no output declares, and how to declare it (directories as `dir/**`; Next.js's cache left out). */
function undeclaredWriteNotes(node: NodeDecl, nodeDir: string, writes: Writes): string[] {
  const lines: string[] = [];
  if (writes.created.length > 0) {
    lines.push(
      node.outputs.length === 0
        ? `wrote ${listSome(writes.created, 5)}, which no output declares: cached and restored as undeclared outputs`
        : `wrote ${listSome(writes.created, 5)}, outside its declared outputs: not cached (a run brings it back when it is gone)`,
    );
  }
  if (writes.modified.length > 0) lines.push(`rewrote ${listSome(writes.modified, 5)}, which it also reads`);
  if (writes.created.length > 0) lines.push(`declare them as outputs: ${JSON.stringify(outputGlobsOf(nodeDir, writes.created))} with ${node.writeScan?.declareIn ?? 'outputs:'}`);
  return lines;
}

/** Declared outputs and the node's writeScan skips: what the write scan does not look at. */
function scanSkip(node: NodeDecl): (rel: string) => boolean {
  const outputs = OutputSpec.of(node.outputs);
  const skipped = node.writeScan?.skip ?? [];
  return (rel) => outputs.isProduct(rel) || skipped.some((d) => isWithin(rel, d));
}

function missingDir(node: NodeDecl): Diagnostic {
  return { pos: fieldPosition(node, 'dir'), message: `node dir '${node.dir}' does not exist` };
}
