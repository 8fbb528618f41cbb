import path from 'node:path';
import type { Workspace } from '../../buildfile/types.js';
import { didYouMean, formatDiagnostic, UserError } from '../../diagnostic.js';
import { outputsUnchanged } from '../../keys/stamps.js';
import { StatCache } from '../../keys/hash/stat-cache.js';
import { initXxhash } from '../../keys/hash/xxhash.js';
import { NodeStates, type NodeState } from '../../state/node-states.js';
import { gatherIngredients } from '../../keys/ingredients.js';
import { computeKey, diffIngredients } from '../../keys/key.js';
import { tracedIngredients } from '../../pipeline/traced-stages.js';
import { essentialEnv } from '../../pipeline/node-env.js';
import { openStateDb } from '../../state/state-db.js';
import { Toolchains } from '../../keys/toolchain.js';
import { parseCommand, resolveCacheDir } from '../args.js';
import { depViews, resolveNode } from '../../pipeline/node-context.js';
import { rules } from '../../../rules/index.js';
import type { DepView, NodeContext } from '../../../rules/rule.js';
import { loadForCommand } from '../workspace.js';
import { nodeIndex } from '../../graph/node-index.js';
import { topoOrder } from '../../graph/topo-order.js';

const USAGE = `usage: kiln why NODE

Explains whether NODE would rebuild and which of its key ingredients changed
since its last build in this checkout: input files, dependency outputs,
declared env, toolchains, attributes.`;

type Verdict = { stale: boolean; lines: string[]; meta: Record<string, string> };

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand('why', argv, {}, USAGE);
  if (positionals.length !== 1) throw new UserError([{ message: 'why: expects exactly one node id', hint: 'kiln why NODE' }]);
  const ws = await loadForCommand(values);
  const id = positionals[0]!;
  const byId = nodeIndex(ws);
  if (!byId.has(id)) {
    const guess = didYouMean(id, byId.keys());
    throw new UserError([{ message: `why: no node '${id}'`, ...(guess ? { hint: `did you mean '${guess}'?` } : {}) }]);
  }
  await initXxhash();
  const db = openStateDb(ws.root);
  try {
    const explainer = new Explainer(ws, new StatCache(db), new NodeStates(db), resolveCacheDir(values));
    const verdict = await explainer.explain(id);
    process.stdout.write(`${verdict.lines.join('\n')}\n`);
    return 0;
  } finally {
    db.close();
  }
}

/** Recomputes a node's ingredients as the next build would and compares them with its last build. */
class Explainer {
  private readonly memo = new Map<string, Verdict>();
  private readonly toolchains: Toolchains;
  private readonly states: Map<string, NodeState>;

  constructor(
    private readonly ws: Workspace,
    private readonly stats: StatCache,
    private readonly nodeStates: NodeStates,
    private readonly cacheDir: string,
  ) {
    this.states = nodeStates.load();
    this.toolchains = new Toolchains(ws.toolchains, essentialEnv(process.env));
  }

  /** Explains `id` after every node it depends on, deps first (iteratively: a chain may be 100,000 long). */
  async explain(id: string): Promise<Verdict> {
    const index = nodeIndex(this.ws);
    for (const n of topoOrder([id], (x) => index.get(x)!.deps.map((d) => d.id))) {
      if (!this.memo.has(n)) this.memo.set(n, await this.compute(n));
    }
    return this.memo.get(id)!;
  }

  private async compute(id: string): Promise<Verdict> {
    const node = nodeIndex(this.ws).get(id)!;
    const state = this.states.get(id);
    const depDigests: Record<string, string> = {};
    const staleDeps: string[] = [];
    for (const dep of node.deps) {
      const depVerdict = this.memo.get(dep.id)!;
      // A stale dep's new outputs are unknown until it runs: compare against its last ones. Its headline only:
      // each dep's own reasons are its own lines (a chain would otherwise repeat every line below it).
      if (depVerdict.stale) staleDeps.push(`    ${depVerdict.lines[0]}`);
      const depState = this.states.get(dep.id);
      if (depState) depDigests[dep.id] = depState.outputDigest;
    }
    // The transitive views (one walk of the graph, with each dependency's metadata from explaining it), built only when the rule asks.
    let deps: Map<string, DepView> | undefined;
    const depViewsNow = () => {
      deps = depViews(this.ws, node, new Map());
      for (const [depId, view] of deps) deps.set(depId, { ...view, meta: this.memo.get(depId)!.meta });
      return deps;
    };
    const depNotes = staleDeps.length > 0 ? [`  and it rebuilds if the outputs of a dependency that rebuilds first change:`, ...staleDeps] : [];
    const ctx: NodeContext = {
      node,
      root: this.ws.root,
      cwd: path.join(this.ws.root, node.dir),
      env: essentialEnv(process.env),
      signal: new AbortController().signal,
      get deps() {
        return deps ?? depViewsNow();
      },
      cacheDir: this.cacheDir,
      offline: true, // explaining must not fetch
    };
    const resolved = await resolveNode(ctx, rules.get(node.rule)!);
    if (!resolved.ok) {
      const why = 'diagnostic' in resolved ? formatDiagnostic(resolved.diagnostic) : resolved.error;
      return { stale: true, lines: [`${id}: cannot build: ${why}`], meta: {} };
    }
    const ownMeta = resolved.value.resolution?.meta ?? {};
    if (!state) return { stale: true, lines: [`${id}: will build: never built in this checkout`], meta: ownMeta };
    const gathered = await gatherIngredients(this.ws, node, depDigests, this.stats, this.toolchains, process.env, resolved.value, state.written);
    if ('error' in gathered) return { stale: true, lines: [`${id}: cannot build: ${formatDiagnostic(gathered.error)}`], meta: ownMeta };
    const recorded = this.nodeStates.ingredients(id)!;
    // A traced node is compared on the paths its last run read, as they are now.
    const ingredients = node.traced && recorded.traced ? tracedIngredients(node, gathered.ingredients, Object.keys(recorded.inputs), this.ws.root, this.stats).ingredients : gathered.ingredients;
    const key = computeKey(ingredients);
    if (key !== state.key) {
      const changes = diffIngredients(recorded, ingredients).map((l) => `  ${l}`);
      return {
        stale: true,
        lines: [`${id}: will rebuild (key ${state.key.slice(0, 12)} -> ${key.slice(0, 12)}) because:`, ...changes, ...depNotes],
        meta: ownMeta,
      };
    }
    if (!outputsUnchanged(path.join(this.ws.root, node.dir), state.fingerprint)) {
      return {
        stale: false,
        lines: [`${id}: key unchanged; its outputs were changed on disk and will be restored from the cache`, ...depNotes],
        meta: ownMeta,
      };
    }
    return {
      stale: depNotes.length > 0,
      lines: [
        depNotes.length > 0
          ? `${id}: its own inputs are unchanged (key ${key.slice(0, 12)})`
          : `${id}: up to date (key ${key.slice(0, 12)} unchanged since its last build)`,
        ...depNotes,
      ],
      meta: ownMeta,
    };
  }
}
