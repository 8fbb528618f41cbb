import type { Workspace } from '../buildfile/types.js';
import { createProgress, type ProgressOut } from '../progress/progress.js';
import type { RunHistory } from '../state/history.js';
import type { NodeState } from '../state/node-states.js';
import { finishRun } from '../pipeline/finish-run.js';
import { notSelected, type NodeSummary } from '../pipeline/summary.js';
import { LocalCache } from '../../cache/local/store.js';
import type { BuildRequest } from './protocol.js';
import { nodeIndex } from '../graph/node-index.js';

/**
 * What `kiln build` would have done for a request whose nodes the daemon
 * proved up to date: every selected node cached, its log replayed as the
 * client asked, and the run finished as a build's is (finishRun: summary
 * file, history row, pruning), rendered by the same progress code.
 */
export async function answerUpToDate(
  ws: Workspace,
  selected: ReadonlySet<string>,
  states: ReadonlyMap<string, NodeState>,
  req: BuildRequest,
  history: RunHistory,
): Promise<{ exitCode: 0; stdout: string }> {
  const startedAt = new Date();
  const t0 = performance.now();
  let stdout = '';
  const out: ProgressOut = { write: (s) => (stdout += s), columns: req.columns };
  const report = createProgress({ live: req.live, logs: req.logs, out });
  const byId = nodeIndex(ws);
  const depsOf = (id: string) => byId.get(id)!.deps.map((d) => d.id);
  report({
    type: 'start',
    total: selected.size,
    workers: req.jobs,
    plan: { nodes: [...selected], depsOf, duration: (id) => states.get(id)?.durationMs },
  });
  let cache: LocalCache | undefined;
  const rows = new Map<string, NodeSummary>();
  for (const n of ws.nodes) {
    if (!selected.has(n.id)) continue;
    const known = states.get(n.id)!;
    const row: NodeSummary = {
      id: n.id, rule: n.rule, key: known.key, status: 'cached', cache: 'local', upToDate: true, durationMs: 0, outputDigest: known.outputDigest, error: null,
    };
    rows.set(n.id, row);
    const log = known.log && req.logs === 'full' ? await (cache ??= LocalCache.open(req.cacheDir)).readLog(known.log) : null;
    report({ type: 'node-done', node: row, log, replayed: true });
  }
  cache?.close();
  finishRun(
    { command: 'build', startedAt, t0, dryRun: false, nodes: ws.nodes.map((n) => rows.get(n.id) ?? notSelected(n)), exitCode: 0 },
    {
      history,
      ...(ws.history ? { keepRuns: ws.history.keepRuns } : {}),
      facts: { args: req.args, workers: req.jobs, upstream: [], timing: () => ({ startMs: 0, lane: 0, bytes: 0, spans: [] }), depsOf },
    },
    report,
    req.summary,
  );
  return { exitCode: 0, stdout };
}
