import type { GenericSchema } from 'valibot';
import type { NodeDecl } from '../engine/buildfile/types.js';
import type { Diagnostic } from '../engine/diagnostic.js';

/** A settled dependency as a rule sees it. */
export interface DepView {
  /** Absolute node directory of the dependency; its outputs are paths under it. */
  dir: string;
  outputs: readonly string[];
  /** Metadata it published when it resolved (e.g. a git project's commit, date, version). */
  meta: Readonly<Record<string, string>>;
}

/** What every rule hook gets. Everything it may touch is here. */
export interface NodeContext {
  node: NodeDecl;
  /** Absolute workspace root. Never put it into anything that is hashed. */
  root: string;
  /** Absolute node directory. */
  cwd: string;
  /** The complete environment the node's processes see: declared env plus essentials. */
  env: Record<string, string>;
  /** Aborted on Ctrl-C/SIGTERM; the rule must stop its processes (whole process group). */
  signal: AbortSignal;
  /** Direct and transitive dependencies, settled, by id. */
  deps: ReadonlyMap<string, DepView>;
  /** kiln's per-user cache dir, for long-lived rule state (e.g. git mirrors). */
  cacheDir: string;
  /** --offline: use local state as it is, never the network. */
  offline: boolean;
  /** --override for this node: a ref or a local path to use instead of what the build file says. */
  override?: string;
}

/** What a rule learns before the key is computed. */
export interface Resolution {
  /** Extra key ingredients (e.g. a git tree id). No absolute path may appear here. */
  ingredients: Record<string, unknown>;
  /** Values dependents may consume with `uses:`; not part of this node's own key. */
  meta: Record<string, string>;
  /** Shown with the node's result (e.g. "patch 0003 already upstream in abc123"). */
  notes?: string[];
}

export interface RuleContext extends NodeContext {
  /** Captured output of the node, stored with the cache entry and replayed on a hit. */
  log: NodeLog;
  /** Set by `kiln build --audit`: every command of the node runs under the file tracer, appending to this file. */
  trace?: string;
  /** What resolve() returned, for rules that resolve. */
  resolution?: Resolution;
}

export interface NodeLog {
  write(stream: 'stdout' | 'stderr', chunk: string | Uint8Array): void;
}

/** A directory a traced command worked in that stands for another: the trace's paths under `from` mean those under `to`. */
export interface TraceAlias {
  from: string;
  to: string;
}

/**
 * `notes` are shown with the node's result, like a resolution's (e.g. "tests: 12 passed, 0 failed, 1 skipped").
 * `traceAliases`: where the rule ran its command in a copy (a test's scratch tree), what the copy stands for.
 */
export type RuleOutcome = (
  | { ok: true; notes?: string[] }
  | { ok: false; error: string; notes?: string[]; /** The command's exit code, when it exited with one. */ exitCode?: number }
) & { traceAliases?: TraceAlias[] };

/**
 * A rule kind. One module per kind in rules/, registered in rules/index.ts.
 * `version` enters every key made with the rule: bump it when the rule's
 * behaviour changes so old cache entries are not reused.
 */
export interface Rule {
  id: string;
  version: number;
  description: string;
  /** Rule-specific attributes of a node (valibot schemas by key); other keys are unknown. */
  attributes: Record<string, GenericSchema>;
  /** Keys of `attributes` that must be present. */
  required: string[];
  /** Whether `--override NODE=REF|PATH` applies to this rule. */
  overridable?: boolean;
  /**
   * The node stands for an upstream project at a commit, which its
   * resolution's meta names (`url`, `ref`, `commit`): `kiln chase` walks its
   * new commits, `kiln bisect` searches them, and a run's history row says
   * which commits it built. The engine asks this, never a rule's name.
   */
  upstream?: boolean;
  /** Its commands run through runProcess, so `inputs: traced` can trace them. */
  traceable?: boolean;
  /**
   * Runs before the key, every build (cached or not): learns what the node
   * stands for beyond its input files (a git ref's tree, normalised patches).
   * A `diagnostic` is a build-file mistake only the rule can see (attributes
   * that go together, which dependency is the tree): located, exit code 2.
   */
  resolve?(
    ctx: NodeContext,
  ): Promise<{ ok: true; value: Resolution } | { ok: false; error: string } | { ok: false; diagnostic: Diagnostic }>;
  run(ctx: RuleContext): Promise<RuleOutcome>;
}
