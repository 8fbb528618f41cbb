import type { NodeDecl, Workspace } from '../buildfile/types.js';
import { prepareCheckoutTmp } from '../state/checkout-tmp.js';
import type { Reporter } from './events.js';
import { renderFailure, type Failure } from '../failure.js';
import { fingerprintOutputs } from '../keys/stamps.js';
import { StatCache } from '../keys/hash/stat-cache.js';
import { GitIndex } from '../keys/hash/git-index.js';
import { initXxhash } from '../keys/hash/xxhash.js';
import { RunHistory } from '../state/history.js';
import { NodeStates, type NodeState } from '../state/node-states.js';
import type { Ingredients } from '../keys/key.js';
import { essentialEnv } from './node-env.js';
import { openStateDb } from '../state/state-db.js';
import type { NodeSummary } from './summary.js';
import { Timeline } from './timeline.js';
import { Toolchains } from '../keys/toolchain.js';
import { excludedProducts } from '../keys/write-scan.js';
import { ActionCache } from '../../cache/action-cache.js';
import type { RemoteSetup } from '../../cache/remote/config.js';
import type Database from 'better-sqlite3';
import { nodeIndex } from '../graph/node-index.js';
import { shardAssignment } from '../graph/shard.js';
import type { Cobuild } from '../cobuild/coordinator.js';

export interface BuildOptions {
  /** Node ids in scope (targets plus their transitive deps), already selected. */
  selected: Set<string>;
  jobs: number;
  keepGoing: boolean;
  dryRun: boolean;
  /**
   * Whether a cached node's log is read, to be replayed (`--logs full`). Off,
   * a cached node settles without opening its log: a no-op of chatty nodes
   * otherwise reads and hashes a blob per node that nothing prints.
   */
  replayLogs: boolean;
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
  /** --summary FILE: where the run summary is written. */
  summaryFile?: string;
  /** --audit: nodes that run are traced, and what they read or wrote undeclared is reported (strict: fails them). */
  audit?: 'warn' | 'strict';
  /** --shard i/n: this agent builds its share of the nodes and waits (up to waitMs) for the others' results in the remote cache. */
  shard?: { index: number; count: number; waitMs: number };
  /** --cobuild ID: agents claim nodes through Redis (`redis` is its URL) and share results through the remote cache. */
  cobuild?: { id: string; redis: string };
}

/** A settled node: its summary row, and what dependents hash for it (known only for built and cached nodes). */
export interface Settled {
  summary: NodeSummary;
  outputDigest: string | null;
}

/** A node's key and ingredients with the stamps that let the next build skip gathering them. */
export interface Keyed {
  key: string;
  /** What the key was made of; as stored JSON when it is the recorded key (knownKey), saved back unparsed. */
  ingredients: Ingredients | string;
  inputStamp: string | null;
  context: string;
  /** The paths excluded from the inputs as undeclared products of the node (NodeState.written). */
  written: string[];
}

/** How a cached node got its outputs: already in place, or restored from a tier. */
export type CachedHow = 'up to date' | 'local' | 'remote';

/**
 * Everything one build shares, opened once: the workspace and its graph
 * index, the checkout state (stat cache, node states, history), the action
 * cache, the timeline, and the settled nodes so far. The pipeline's stages
 * (node-stages.ts) take it as their context; the ways a node settles
 * (built, cached, failed, skipped) are its methods, so every node ends with
 * exactly one status and one event.
 */
export class BuildSession {
  readonly startedAt = new Date();
  readonly t0 = performance.now();
  readonly timeline = new Timeline(this.t0);
  /** The graph index: node id → declaration, built once per build. */
  readonly byId: ReadonlyMap<string, NodeDecl>;
  readonly stats: StatCache;
  /** This checkout's node states: loaded once, written as nodes settle. */
  readonly nodeStates: NodeStates;
  /** The states as loaded, each replaced when its node records a new one in this build. */
  readonly states: Map<string, NodeState>;
  readonly history: RunHistory;
  readonly cache: ActionCache;
  readonly tmpDir: string;
  /** What every rule hook sees as its environment before the node's own declared env. */
  readonly baseEnv: Readonly<Record<string, string>>;
  readonly toolchains: Toolchains;
  readonly settled = new Map<string, Settled>();
  /** Metadata published by resolved nodes, for dependents' `uses`. */
  readonly meta = new Map<string, Record<string, string>>();
  readonly failures: Failure[] = [];
  private readonly notes = new Map<string, string[]>();
  private stopping = false;

  private constructor(
    readonly ws: Workspace,
    readonly opts: BuildOptions,
    readonly report: Reporter,
    readonly db: Database.Database,
  ) {
    this.byId = nodeIndex(ws);
    this.tmpDir = prepareCheckoutTmp(ws.root);
    this.stats = new StatCache(db, () => {
      const index = GitIndex.forDir(ws.root);
      return index && { index, digestsOf: (blobs) => this.cache.local.gitBlobDigests(blobs), remember: (digests) => this.cache.local.rememberGitBlobs(digests) };
    });
    this.nodeStates = new NodeStates(db);
    this.states = this.nodeStates.load(statesRead(ws, this.byId, opts.selected));
    if (!opts.dryRun) this.nodeStates.batchWrites();
    this.history = new RunHistory(db);
    this.baseEnv = Object.freeze(essentialEnv(opts.env));
    this.toolchains = new Toolchains(ws.toolchains, this.baseEnv);
    this.cache = new ActionCache(opts.cacheDir, opts.remote, {
      warn: (message) => report({ type: 'warning', message }),
      now: () => this.timeline.now(),
      span: (node, kind, start, lane) => this.timeline.span(node, kind, start, lane),
      timed: (node, kind, work) => this.timeline.timed(node, kind, work),
    });
  }

  /** The cobuild this agent takes part in (--cobuild), when Redis answered. */
  cobuild: Cobuild | undefined;
  /** Outcomes still being told to the other agents of a cobuild: done before the build ends. */
  private readonly announcing: Promise<void>[] = [];

  /** Tells the other agents how a node ended, in the background; never rejects (Redis trouble is a warning). */
  announce(telling: Promise<void>): void {
    this.announcing.push(telling.catch((e: unknown) => this.report({ type: 'warning', message: `cobuild: ${(e as Error).message}` })));
  }

  static async open(ws: Workspace, opts: BuildOptions, report: Reporter): Promise<BuildSession> {
    await initXxhash();
    const s = new BuildSession(ws, opts, report, openStateDb(ws.root));
    if (opts.cobuild) {
      const { Cobuild } = await import('../cobuild/coordinator.js');
      s.cobuild = await Cobuild.connect(opts.cobuild.redis, opts.cobuild.id, (message) => report({ type: 'warning', message }));
      s.cache.firstWriterWins = true;
    }
    return s;
  }

  /** Whether nodes not yet started must not start: a failure without --keep-going, or Ctrl-C. */
  get stopped(): boolean {
    return this.stopping || this.opts.signal.aborted;
  }

  private shards: Map<string, number> | undefined;

  /**
   * Under `--shard i/n`, the agent that builds `id` when it is not this one
   * (`shard 2/3`); undefined when this agent builds it. Every agent deals the
   * same nodes (all selected ones, proven or not) the same way.
   */
  shardOwner(id: string): string | undefined {
    const shard = this.opts.shard;
    if (!shard) return undefined;
    this.shards ??= shardAssignment(
      this.ws.nodes.filter((n) => this.opts.selected.has(n.id)).map((n) => n.id),
      (x) => this.byId.get(x)!.deps.map((d) => d.id),
      shard.count,
    );
    const owner = this.shards.get(id)!;
    return owner === shard.index ? undefined : shardName(owner, shard.count);
  }

  addNotes(id: string, notes: readonly string[]): void {
    if (notes.length > 0) this.notes.set(id, [...(this.notes.get(id) ?? []), ...notes]);
  }

  /** The undeclared products a node's inputs leave out: its own (`own`) and its package siblings'. */
  productsFor(node: NodeDecl, own: readonly string[]): string[] {
    return excludedProducts(node, own, (id) => this.states.get(id)?.written);
  }

  /** Nodes another agent of a shared build made (or failed): whose run it was. */
  private readonly madeBy = new Map<string, string>();

  /** Says that another agent's run made this node's result, for its summary row (undefined: this agent's, after all). */
  madeElsewhere(id: string, agent: string | undefined): void {
    if (agent === undefined) this.madeBy.delete(id);
    else this.madeBy.set(id, agent);
  }

  /** This agent's name in a build several agents share, else undefined. */
  private get agentName(): string | undefined {
    return this.cobuild?.agent ?? (this.opts.shard ? shardName(this.opts.shard.index, this.opts.shard.count) : undefined);
  }

  /** Settles a node with its one status; the event goes to the renderer. */
  private settle(node: NodeDecl, s: Omit<NodeSummary, 'id' | 'rule'>, log: Buffer | null, replayed = false): void {
    const notes = this.notes.get(node.id);
    const agent = this.madeBy.get(node.id) ?? (s.status === 'built' || s.status === 'failed' ? this.agentName : undefined);
    const summary: NodeSummary = { id: node.id, rule: node.rule, ...s, ...(notes ? { notes } : {}), ...(agent ? { agent } : {}) };
    this.settled.set(node.id, { summary, outputDigest: s.outputDigest });
    if (s.status === 'failed' && !this.opts.keepGoing) this.stopping = true;
    this.report({ type: 'node-done', node: summary, log, replayed });
  }

  built(node: NodeDecl, key: string, outputDigest: string, durationMs: number, log: Buffer | null): void {
    this.settle(node, { key, status: 'built', cache: null, durationMs, outputDigest, error: null }, log);
  }

  cached(node: NodeDecl, key: string, outputDigest: string, how: CachedHow, durationMs: number, log: Buffer | null): void {
    const source = how === 'up to date' ? { cache: 'local' as const, upToDate: true as const } : { cache: how };
    this.settle(node, { key, status: 'cached', ...source, durationMs, outputDigest, error: null }, log, true);
  }

  failed(node: NodeDecl, failure: Failure, key: string | null = null, durationMs = 0, log: Buffer | null = null): void {
    this.failures.push(failure);
    this.settle(node, { key, status: 'failed', cache: null, durationMs, outputDigest: null, error: renderFailure(failure) }, log);
  }

  skipped(node: NodeDecl, why: string, key: string | null = null): void {
    this.settle(node, { key, status: 'skipped', cache: null, durationMs: 0, outputDigest: null, error: why }, null);
  }

  /** The node's state for the next build: its key as the tree now stands, stamps, output fingerprint. */
  saveState(node: NodeDecl, nodeDir: string, keyed: Keyed, outputDigest: string, outputs: string[], log: string | null, durationMs: number): void {
    const state: NodeState = {
      key: keyed.key, outputDigest, fingerprint: fingerprintOutputs(nodeDir, outputs), log, durationMs,
      inputStamp: keyed.inputStamp, context: keyed.context, written: keyed.written,
    };
    this.nodeStates.save(node.id, state, keyed.ingredients);
    // Nodes settle once per build: later stages read what this one left (its siblings' inputs, dependents' checks of its outputs).
    this.states.set(node.id, state);
  }

  /** Commits batched state writes and closes the caches; the database stays open for the run's history row. */
  async closeCaches(): Promise<void> {
    try {
      this.stats.flush(); // first: the git blob digests it learnt go into the local cache
    } finally {
      try {
        await this.cache.close();
        await Promise.all(this.announcing);
      } finally {
        this.nodeStates.commit();
      }
    }
  }
}

/** What a build's summary calls the agent of shard `index` (1-based) of `count`. */
const shardName = (index: number, count: number): string => `shard ${index}/${count}`;

/**
 * The nodes whose states a build of `selected` reads: those nodes and
 * their package siblings (a write scan leaves out what a sibling wrote).
 * Undefined, meaning all, when the selection is a large part of the graph:
 * one query for every row then costs less than a lookup each.
 */
function statesRead(ws: Workspace, byId: ReadonlyMap<string, NodeDecl>, selected: ReadonlySet<string>): Set<string> | undefined {
  if (selected.size * 8 > ws.nodes.length) return undefined;
  const ids = new Set(selected);
  for (const id of selected) for (const sibling of byId.get(id)!.writeScan?.siblings ?? []) ids.add(sibling);
  return ids;
}
