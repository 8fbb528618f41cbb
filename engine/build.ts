import fs from 'node:fs';
import path from 'node:path';
import type { NodeDecl, Workspace } from './buildfile/types.js';
import { formatDiagnostic, type Diagnostic } from './diagnostic.js';
import type { Reporter } from './events.js';
import { prepareCheckoutTmp } from './checkout-tmp.js';
import { fingerprintOutputs, outputsUnchanged } from './fingerprint.js';
import { StatCache } from './hash/stat-cache.js';
import { initXxhash } from './hash/xxhash.js';
import { DEFAULT_KEEP_RUNS, History, type NodeState, type UpstreamHead } from './history.js';
import { gatherIngredients } from './ingredients.js';
import { computeKey, type Ingredients } from './key.js';
import { essentialEnv, nodeEnv } from './node-env.js';
import { depViews, resolveNode, type Resolved } from './node-context.js';
import { RemoteSession } from './remote-session.js';
import { runScheduled, type SchedulePlan } from './schedule.js';
import { openStateDb } from './state-db.js';
import { notSelected, type NodeSummary, type RunSummary } from './summary.js';
import { Timeline } from './timeline.js';
import { contextSignature, settleByStamps } from './up-to-date.js';
import { Toolchains } from './toolchain.js';
import { DirQueue, scanWrites, type Writes } from './write-scan.js';
import { rules } from '../rules/index.js';
import type { DepView, NodeContext, Rule } from '../rules/rule.js';
import { CorruptBlobError, LocalCache } from '../cache/local/store.js';
import type { ActionEntry } from '../cache/local/action-index.js';
import { collectOutputs, entryOutputDigest, outputSpec, removeOutputs, restoreOutputs, UnsafeOutputError } from '../cache/local/outputs.js';
import { OutputSpec } from '../cache/local/output-spec.js';
import type { RemoteSetup } from '../cache/remote/config.js';

export interface BuildOptions {
  /** Node ids in scope (targets plus their transitive deps), already selected. */
  selected: Set<string>;
  jobs: number;
  keepGoing: boolean;
  dryRun: boolean;
  cacheDir: string;
  /** The caller's environment; nodes see only the declared part of it. */
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  command: string;
  /** The command line as typed, for the run's history row. */
  args: string[];
  /** The shared cache, when one is configured. */
  remote?: RemoteSetup;
  /** --offline: rules use their local state (e.g. git mirrors) as is. */
  offline: boolean;
  /** --override NODE=REF|PATH, validated by the caller. */
  overrides: ReadonlyMap<string, string>;
  /** Node id → key the workspace's daemon proved and saw no change touch since: their stats are skipped. */
  vouched?: ReadonlyMap<string, string>;
}

export interface BuildOutcome {
  summary: RunSummary;
  /** 0 all good, 1 a node failed, 2 a build-file mistake surfaced during the build. */
  exitCode: 0 | 1 | 2;
  /** The run's row in the checkout's history (per-node statuses and durations), unless a dry run. */
  runId?: number;
}

interface Settled {
  summary: NodeSummary;
  /** Known only for built/cached nodes; dependents hash it. */
  outputDigest: string | null;
}

/** Metadata published by resolved nodes, for dependents' `uses`. */
type MetaByNode = Map<string, Record<string, string>>;

/** Builds the selected nodes of a workspace. Every node ends with one status; nothing here throws for a user mistake. */
export async function runBuild(ws: Workspace, opts: BuildOptions, report: Reporter): Promise<BuildOutcome> {
  const startedAt = new Date();
  const t0 = performance.now();
  const timeline = new Timeline(t0);
  await initXxhash();
  const db = openStateDb(ws.root);
  const tmpDir = prepareCheckoutTmp(ws.root);
  const stats = new StatCache(db);
  const history = new History(db);
  const states = history.loadNodeStates();
  if (!opts.dryRun) history.batchWrites();
  let cache: LocalCache | undefined;
  const localCache = () => (cache ??= LocalCache.open(opts.cacheDir));
  // What every rule hook sees as its environment before the node's own declared env: the same for all nodes.
  const baseEnv = Object.freeze(essentialEnv(opts.env));
  const toolchains = new Toolchains(ws.toolchains, baseEnv);
  const remote = opts.remote ? new RemoteSession(opts.remote, report, timeline) : undefined;
  const byId = new Map(ws.nodes.map((n) => [n.id, n]));
  const settled = new Map<string, Settled>();
  const meta: MetaByNode = new Map();
  const notes = new Map<string, string[]>();
  const dirQueue = new DirQueue();
  // Paths each node last created undeclared: excluded from its inputs and from those of the other scripts of its package.
  const writtenBy = new Map([...states].map(([id, st]) => [id, st.written]));
  const productsFor = (node: NodeDecl, own: readonly string[]): string[] =>
    [...new Set([...own, ...(node.writeScan?.siblings ?? []).flatMap((s) => writtenBy.get(s) ?? [])])];
  let stopping = false;
  let buildFileError = false;

  const inScope = ws.nodes.filter((n) => opts.selected.has(n.id)).map((n) => n.id);
  const plan: SchedulePlan = {
    nodes: inScope,
    depsOf: (id) => byId.get(id)!.deps.map((d) => d.id),
    duration: (id) => states.get(id)?.durationMs,
  };
  report({ type: 'start', total: inScope.length, workers: opts.jobs, plan });

  const finish = (node: NodeDecl, s: Omit<NodeSummary, 'id' | 'rule'>, log: Buffer | null, replayed = false) => {
    const nodeNotes = notes.get(node.id);
    const summary: NodeSummary = { id: node.id, rule: node.rule, ...s, ...(nodeNotes ? { notes: nodeNotes } : {}) };
    settled.set(node.id, { summary, outputDigest: s.outputDigest });
    if (s.status === 'failed' && !opts.keepGoing) stopping = true;
    report({ type: 'node-done', node: summary, log, replayed });
  };
  const skip = (node: NodeDecl, error: string, key: string | null = null) =>
    finish(node, { key, status: 'skipped', cache: null, durationMs: 0, outputDigest: null, error }, null);
  const failUser = (node: NodeDecl, d: Diagnostic) => {
    buildFileError = true;
    finish(node, { key: null, status: 'failed', cache: null, durationMs: 0, outputDigest: null, error: formatDiagnostic(d) }, null);
  };

  const processNode = async (id: string, lane: number): Promise<void> => {
    const node = byId.get(id)!;
    const nodeStart = performance.now();
    timeline.startNode(id, lane);
    const elapsed = () => Math.round((performance.now() - nodeStart) * 10) / 10;
    const depDigests: Record<string, string> = {};
    for (const dep of node.deps) {
      const d = settled.get(dep.id)!;
      if (d.outputDigest === null) {
        return d.summary.status === 'skipped' && opts.dryRun
          ? skip(node, `would run: dependency '${dep.id}' would run`)
          : skip(node, `dependency '${dep.id}' ${d.summary.status === 'failed' ? 'failed' : 'was skipped'}`);
      }
      depDigests[dep.id] = d.outputDigest;
    }
    if (stopping || opts.signal.aborted) return skip(node, 'not started: the build stopped after a failure');
    const nodeDir = path.join(ws.root, node.dir);
    const rule = rules.get(node.rule)!;
    const override = opts.overrides.get(id);
    // The transitive dependency views cost a walk of the graph: built only when
    // a rule looks at them (resolve, uses, a run), never on a plain no-op.
    let deps: Map<string, DepView> | undefined;
    const ctx: NodeContext = {
      node,
      root: ws.root,
      cwd: nodeDir,
      env: baseEnv,
      signal: opts.signal,
      get deps() {
        return (deps ??= depViews(ws, node, meta, byId));
      },
      cacheDir: opts.cacheDir,
      offline: opts.offline,
      ...(override !== undefined ? { override } : {}),
    };
    const resolved = await resolveNode(ctx, rule);
    if (!resolved.ok) {
      if ('diagnostic' in resolved) return failUser(node, resolved.diagnostic);
      return finish(node, { key: null, status: 'failed', cache: null, durationMs: elapsed(), outputDigest: null, error: resolved.error }, null);
    }
    meta.set(id, resolved.value.resolution?.meta ?? {});
    if (resolved.value.resolution?.notes?.length) notes.set(id, resolved.value.resolution.notes);
    const known = states.get(id);
    const gather = async (written: readonly string[]): Promise<Stamped | { error: Diagnostic }> => {
      const gathered = await gatherIngredients(ws, node, depDigests, stats, toolchains, opts.env, resolved.value, productsFor(node, written));
      if ('error' in gathered) return gathered;
      const { ingredients } = gathered;
      const key = computeKey(ingredients);
      return { key, ingredients, inputStamp: gathered.inputStamp, context: contextSignature(node, ingredients), written: [...written] };
    };
    const stamped = await gather(known?.written ?? []);
    // A missing node dir surfaces as unmatched inputs: name the real cause.
    if ('error' in stamped) return failUser(node, fs.existsSync(nodeDir) ? stamped.error : missingDir(node));
    const { key } = stamped;
    const cached = (outputDigest: string, log: Buffer | null, source: 'local' | 'remote' | 'up to date' = 'local') => {
      // A local hit the remote never received (built while it was down) is uploaded now.
      if (source !== 'remote' && !opts.dryRun && remote?.owes(key, localCache())) {
        const entry = localCache().getAction(key);
        if (entry) remote.upload(id, key, entry, localCache());
      }
      const how = source === 'up to date' ? { cache: 'local' as const, upToDate: true as const } : { cache: source };
      finish(node, { key, status: 'cached', ...how, durationMs: elapsed(), outputDigest, error: null }, log, true);
    };

    // Never cached (turbo's cache: false): always runs.
    if (node.noCache && !opts.dryRun) return execute(node, rule, { ...ctx, resolved: resolved.value }, stamped, gather, nodeStart);
    // Up to date: this checkout's outputs are still what kiln left for this key.
    if (known && known.key === key && outputsUnchanged(nodeDir, known.fingerprint)) {
      // Found the slow way (a file touched but unchanged, a stamp too fresh to trust): next time the fast way.
      if (!opts.dryRun && (known.inputStamp !== stamped.inputStamp || known.context !== stamped.context)) {
        history.restamp(id, stamped.inputStamp, stamped.context);
      }
      return cached(known.outputDigest, known.log ? await localCache().readLog(known.log) : null, 'up to date');
    }
    let entry = localCache().getAction(key);
    if (opts.dryRun) {
      return entry
        ? cached(entry.outputDigest, null)
        : skip(node, 'would run: no cache entry for its key', key);
    }
    let source: 'local' | 'remote' = 'local';
    if (!entry && remote) {
      // Blobs are verified into the local cache first, then the entry recorded, then restored like a local hit.
      entry = await timeline.timed(id, 'fetch', () => remote.fetch(id, key, localCache()));
      if (entry) {
        localCache().putAction(key, entry);
        source = 'remote';
      }
    }
    if (entry) {
      history.forgetNodeState(id);
      try {
        const restoring = entry;
        // Undeclared outputs this checkout saw kiln create may be replaced whole; others are written over.
        const createdHere = new Set(known?.written);
        await timeline.timed(id, 'restore', () =>
          restoreOutputs(localCache(), nodeDir, node.outputs, restoring, tmpDir, (root) => createdHere.has(root) || !fs.existsSync(path.join(nodeDir, root))),
        );
        timeline.addBytes(id, outputBytes(entry));
        const log = entry.log ? await localCache().readBlob(entry.log.digest) : null;
        // What the entry restored undeclared, and what this checkout's builds created, stay out of the inputs.
        const written = [...new Set([...stamped.written, ...(entry.undeclared ?? [])])].sort();
        const outputRoots = [...node.outputs, ...(entry.undeclared ?? [])];
        saveState(history, writtenBy, id, { ...stamped, written }, entry.outputDigest, nodeDir, outputRoots, entry.log?.digest ?? null, entry.durationMs);
        return cached(entry.outputDigest, log, source);
      } catch (e) {
        if (!(e instanceof CorruptBlobError || e instanceof UnsafeOutputError)) throw e;
        localCache().deleteAction(key);
        report({ type: 'warning', message: `${id}: cache entry unusable (${e.message}); rebuilding` });
      }
    }
    return execute(node, rule, { ...ctx, resolved: resolved.value }, stamped, gather, nodeStart);
  };

  const execute = async (
    node: NodeDecl,
    rule: Rule,
    ctx: NodeContext & { resolved: Resolved },
    stamped: Stamped,
    regather: (written: readonly string[]) => Promise<Stamped | { error: Diagnostic }>,
    nodeStart: number,
  ) => {
    const { key } = stamped;
    const nodeDir = ctx.cwd;
    // Checked only before running: on the up-to-date path the outputs' stamp already proves the dir is there.
    if (!fs.existsSync(nodeDir)) return failUser(node, missingDir(node));
    history.forgetNodeState(node.id);
    // Undeclared outputs are removed like declared ones: a build must not find a previous build's leftovers.
    removeOutputs(nodeDir, outputSpec([...node.outputs, ...stamped.written]));
    report({ type: 'node-start', id: node.id });
    const chunks: Buffer[] = [];
    const depDirs = new Map([...ctx.deps].map(([depId, v]) => [depId, v.dir]));
    const run = () => timeline.timed(node.id, 'run', () => rule.run({
      ...ctx,
      env: nodeEnv(node, opts.env, ctx.resolved.uses, depDirs),
      log: { write: (_stream, chunk) => chunks.push(Buffer.from(chunk)) },
      ...(ctx.resolved.resolution ? { resolution: ctx.resolved.resolution } : {}),
    }));
    const { outcome, writes } = node.writeScan ? await scanWrites(nodeDir, scanSkip(node), run) : { outcome: await run(), writes: undefined };
    const log = chunks.length > 0 ? Buffer.concat(chunks) : null;
    if (outcome.notes?.length) notes.set(node.id, [...(notes.get(node.id) ?? []), ...outcome.notes]);
    const durationMs = Math.round((performance.now() - nodeStart) * 10) / 10;
    const failed = (error: string) =>
      finish(node, { key, status: 'failed', cache: null, durationMs, outputDigest: null, error }, log);
    if (!outcome.ok) return failed(outcome.error);
    // A node declaring no outputs caches what it created; one declaring some caches those only.
    const undeclared = node.outputs.length === 0 ? (writes?.created ?? []) : [];
    const outputRoots = [...node.outputs, ...undeclared];
    let collected;
    const storeStart = timeline.now();
    try {
      collected = await collectOutputs(localCache(), nodeDir, outputRoots, node.lenientOutputs === true);
    } catch (e) {
      if (e instanceof UnsafeOutputError) return failed(`unsafe output: ${e.message}`);
      throw e;
    }
    if (!collected.ok) {
      return failed(`declared output${collected.missing.length > 1 ? 's' : ''} not produced: ${collected.missing.join(', ')}`);
    }
    if (collected.missing.length > 0) {
      const none = collected.entry.outputs.length === 0;
      notes.set(node.id, [...(notes.get(node.id) ?? []), `${none ? 'produced none of its declared outputs' : 'did not produce declared outputs'}: ${collected.missing.join(', ')}`]);
    }
    const wroteUndeclared = writes !== undefined && (writes.created.length > 0 || writes.modified.length > 0);
    if (wroteUndeclared) notes.set(node.id, [...(notes.get(node.id) ?? []), ...undeclaredWriteNotes(node, writes)]);
    const unsealed = node.outputs.length === 0 || wroteUndeclared;
    const outputDigest = unsealed ? entryOutputDigest(collected.entry.outputs, key) : collected.entry.outputDigest;
    const logRef = log ? await localCache().putBuffer(log) : null;
    const entry: ActionEntry = {
      ...collected.entry, outputDigest, log: logRef, durationMs,
      ...(unsealed ? { unsealed: true as const } : {}),
      ...(undeclared.length > 0 ? { undeclared } : {}),
    };
    if (node.noCache) {
      finish(node, { key, status: 'built', cache: null, durationMs, outputDigest, error: null }, log);
      return;
    }
    localCache().putAction(key, entry);
    timeline.span(node.id, 'store', storeStart);
    timeline.addBytes(node.id, outputBytes(entry));
    remote?.upload(node.id, key, entry, localCache());
    // The tree as the command left it is what the next build must find up to date: when the
    // command wrote into its own inputs, their new digests (and the created paths, now excluded) make the state's key.
    let after: Stamped | { error: Diagnostic } = stamped;
    if (wroteUndeclared) after = await regather([...new Set([...stamped.written, ...writes.created])].sort());
    if ('error' in after) return failed(`after it ran: ${formatDiagnostic(after.error)}`);
    saveState(history, writtenBy, node.id, after, outputDigest, nodeDir, outputRoots, logRef?.digest ?? null, durationMs);
    finish(node, { key, status: 'built', cache: null, durationMs, outputDigest, error: null }, log);
  };

  /**
   * Settles, without the scheduler, every node its stamps prove up to date
   * (up-to-date.ts): on a no-op build nearly all of them, at the cost of their stats.
   */
  const settleUpToDate = async (): Promise<Set<string>> => {
    const replays: Promise<void>[] = [];
    const proven = settleByStamps(inScope, byId, states, ws.root, opts.env, rules, {
      vouched: opts.vouched,
      allowed: (node, known) => !opts.overrides.has(node.id) && !(remote?.owes(known.key, localCache()) ?? false),
      settled: (node, known, startedAt) => {
        timeline.startNode(node.id, 0);
        meta.set(node.id, {});
        const durationMs = Math.round((performance.now() - startedAt) * 10) / 10;
        const settle = (log: Buffer | null) =>
          finish(node, { key: known.key, status: 'cached', cache: 'local', upToDate: true, durationMs, outputDigest: known.outputDigest, error: null }, log, true);
        if (known.log) replays.push(localCache().readLog(known.log).then(settle));
        else settle(null);
      },
    });
    await Promise.all(replays);
    return proven;
  };

  try {
    const settledByStamps = await settleUpToDate();
    const rest = inScope.filter((id) => !settledByStamps.has(id));
    const depsOf = (id: string) => plan.depsOf(id).filter((d) => !settledByStamps.has(d));
    await runScheduled(
      { ...plan, nodes: rest, depsOf },
      opts.jobs,
      async (id, lane) => {
        try {
          const node = byId.get(id)!;
          if (node.writeScan) await dirQueue.exclusive(node.dir, () => processNode(id, lane));
          else await processNode(id, lane);
        } catch (e) {
          // A bug or an environment failure (disk full, permissions), not a user mistake: fail the node, keep the build's bookkeeping.
          const node = byId.get(id)!;
          finish(node, { key: null, status: 'failed', cache: null, durationMs: 0, outputDigest: null, error: `internal error: ${(e as Error).message}` }, null);
        }
      },
    );
    await remote?.drain();
  } finally {
    history.commit();
    stats.flush();
    cache?.close();
  }
  const summary: RunSummary = {
    version: 1,
    command: opts.command,
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(performance.now() - t0),
    ...(opts.dryRun ? { dryRun: true as const } : {}),
    ...(remote ? { remote: remote.stats } : {}),
    nodes: ws.nodes.map((n) => settled.get(n.id)?.summary ?? notSelected(n)),
  };
  const anyFailed = summary.nodes.some((n) => n.status === 'failed');
  const exitCode = buildFileError ? 2 : anyFailed || opts.signal.aborted ? 1 : 0;
  const runId = opts.dryRun
    ? undefined
    : history.recordRun(summary, {
        args: opts.args,
        exitCode,
        workers: opts.jobs,
        upstream: upstreamHeads(ws.nodes, meta),
        timing: (id) => timeline.get(id),
        depsOf: (id) => byId.get(id)!.deps.map((d) => d.id),
      });
  if (runId !== undefined) history.prune(ws.history?.keepRuns ?? DEFAULT_KEEP_RUNS);
  db.close();
  report({ type: 'end', summary });
  return { summary, exitCode, ...(runId !== undefined ? { runId } : {}) };
}

function outputBytes(entry: ActionEntry): number {
  return entry.outputs.reduce((sum, o) => sum + (o.size ?? 0), 0);
}

/** The upstream commits a run built: what its history row says it was about. */
function upstreamHeads(nodes: NodeDecl[], meta: MetaByNode): UpstreamHead[] {
  const heads: UpstreamHead[] = [];
  for (const n of nodes) {
    const m = meta.get(n.id);
    if (rules.get(n.rule)?.upstream && m?.commit) heads.push({ node: n.id, url: m.url ?? '', ref: m.ref ?? '', commit: m.commit });
  }
  return heads;
}

/** What a node wrote that no output declares, and how to declare it. */
function undeclaredWriteNotes(node: NodeDecl, writes: Writes): string[] {
  const list = (paths: string[]) => (paths.length > 5 ? `${paths.slice(0, 5).join(', ')} and ${paths.length - 5} more` : paths.join(', '));
  const lines: string[] = [];
  if (writes.created.length > 0) {
    lines.push(
      node.outputs.length === 0
        ? `wrote ${list(writes.created)}, which no output declares: cached and restored as undeclared outputs`
        : `wrote ${list(writes.created)}, outside its declared outputs: not cached`,
    );
  }
  if (writes.modified.length > 0) lines.push(`rewrote ${list(writes.modified)}, which it also reads`);
  const globs = writes.created.map((p) => `"${p}/**"`).slice(0, 3).join(', ');
  if (writes.created.length > 0) lines.push(`declare them as outputs (e.g. "outputs": [${globs}] in turbo.json, or outputs: in kiln.yaml) so dependents get early cutoff`);
  return lines;
}

/** Declared outputs and the node's writeScan skips: what the write scan does not look at. */
function scanSkip(node: NodeDecl): (rel: string) => boolean {
  const outputs = OutputSpec.of(node.outputs);
  const skipped = node.writeScan?.skip ?? [];
  return (rel) => outputs.isProduct(rel) || skipped.some((s) => rel === s || rel.startsWith(`${s}/`));
}

function missingDir(node: NodeDecl): Diagnostic {
  return { pos: node.fieldPos.dir ?? node.pos, message: `node dir '${node.dir}' does not exist` };
}

/** A node's key and ingredients with the stamps that let the next build skip gathering them. */
interface Stamped {
  key: string;
  ingredients: Ingredients;
  inputStamp: string | null;
  context: string;
  /** The paths excluded from the inputs as undeclared products of the node (NodeState.written). */
  written: string[];
}

function saveState(
  history: History, writtenBy: Map<string, string[]>, id: string, stamped: Stamped, outputDigest: string,
  nodeDir: string, outputs: string[], log: string | null, durationMs: number,
): void {
  const state: NodeState = {
    key: stamped.key, outputDigest, fingerprint: fingerprintOutputs(nodeDir, outputs), log, durationMs,
    inputStamp: stamped.inputStamp, context: stamped.context, written: stamped.written,
  };
  history.saveNodeState(id, state, stamped.ingredients);
  writtenBy.set(id, stamped.written);
}
