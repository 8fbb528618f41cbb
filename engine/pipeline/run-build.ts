import type { Workspace } from '../buildfile/types.js';
import type { Reporter } from './events.js';
import { exitCodeOf, internalFailure } from '../failure.js';
import type { UpstreamHead } from '../state/history.js';
import { runScheduled } from '../graph/schedule.js';
import { notSelected, type RunSummary } from './summary.js';
import { listSome } from '../report/format.js';
import { settleByStamps } from '../keys/up-to-date.js';
import { DirQueue } from '../keys/write-scan.js';
import { rules } from '../../rules/index.js';
import { stopLeftoverCommands } from '../state/running-commands.js';
import { finishRun } from './finish-run.js';
import { processNode, startable } from './process-node.js';
import { formatTrace, traceOfRun } from '../report/trace.js';
import { loadRun } from '../state/run-record.js';
import { BuildSession, type BuildOptions } from './session.js';

export type { BuildOptions } from './session.js';

export interface BuildOutcome {
  summary: RunSummary;
  /** 0 all good, 1 a node failed, 2 a build-file mistake surfaced during the build. */
  exitCode: 0 | 1 | 2;
  /** The run's row in the checkout's history (per-node statuses and durations), unless a dry run. */
  runId?: number;
}

/**
 * Builds the selected nodes of a workspace, as one pipeline:
 *
 *   open the session (state, caches, graph index)
 *   → settle by stamps: nodes whose stats prove them up to date, without the scheduler
 *   → schedule the rest, critical path first; each node through processNode
 *   → close the caches (uploads drained) → finishRun (summary, history, the closing line).
 *
 * Every node ends with one status; nothing here throws for a user mistake.
 */
export async function runBuild(ws: Workspace, opts: BuildOptions, report: Reporter): Promise<BuildOutcome> {
  if (!opts.dryRun) {
    // Commands a SIGKILLed kiln left running would race this build's: stopped first, and said.
    const leftovers = await stopLeftoverCommands(ws.root);
    if (leftovers.length > 0) {
      const nodes = [...new Set(leftovers.map((l) => l.node))];
      report({ type: 'warning', message: `stopped ${leftovers.length} command${leftovers.length > 1 ? 's' : ''} a killed kiln (pid ${leftovers[0]!.kilnPid}) left running: ${listSome(nodes, 5)}` });
    }
  }
  const s = await BuildSession.open(ws, opts, report);
  try {
    return await buildIn(s, ws, opts, report);
  } finally {
    // The cobuild's connections keep the process alive: closed whatever happened.
    s.cobuild?.close();
  }
}

async function buildIn(s: BuildSession, ws: Workspace, opts: BuildOptions, report: Reporter): Promise<BuildOutcome> {
  const inScope = ws.nodes.filter((n) => opts.selected.has(n.id)).map((n) => n.id);
  const depsOf = (id: string) => s.byId.get(id)!.deps.map((d) => d.id);
  const plan = { nodes: inScope, depsOf, duration: (id: string) => s.states.get(id)?.durationMs };
  report({ type: 'start', total: inScope.length, workers: opts.jobs, plan });
  // Two scripts of one package never run at once: each would take the other's writes for its own.
  const dirQueue = new DirQueue();
  try {
    const proven = await settleUpToDate(s, inScope);
    await runScheduled(
      { ...plan, nodes: inScope.filter((id) => !proven.has(id)), depsOf: (id) => depsOf(id).filter((d) => !proven.has(d)) },
      opts.jobs,
      async (id, lane) => {
        const node = s.byId.get(id)!;
        // A bug or an environment failure (disk full, permissions), not a user mistake: fail the node, keep the build's bookkeeping.
        const internal = (e: unknown) => s.failed(node, internalFailure(e));
        try {
          const result = await (node.writeScan ? dirQueue.exclusive(node.dir, () => processNode(s, id, lane)) : processNode(s, id, lane));
          // Waiting for another agent's result: off the workers, and its failures are the node's too.
          if (result) return { parked: result.parked.catch(internal) };
        } catch (e) {
          internal(e);
        }
      },
      (id) => {
        s.timeline.startNode(id, 0);
        return startable(s, s.byId.get(id)!) === undefined;
      },
    );
  } finally {
    await s.closeCaches();
  }
  const exitCode = exitCodeOf(s.failures, opts.signal.aborted);
  const { summary, runId } = finishRun(
    {
      command: opts.command,
      startedAt: s.startedAt,
      t0: s.t0,
      dryRun: opts.dryRun,
      ...(s.cache.remoteStats ? { remote: s.cache.remoteStats } : {}),
      nodes: ws.nodes.map((n) => s.settled.get(n.id)?.summary ?? notSelected(n)),
      exitCode,
    },
    {
      history: s.history,
      ...(ws.history ? { keepRuns: ws.history.keepRuns } : {}),
      facts: { args: opts.args, workers: opts.jobs, upstream: upstreamHeads(s), timing: (id) => s.timeline.get(id), depsOf },
    },
    report,
    opts.summaryFile,
  );
  // The other agents' traces and this one's make one: `kiln trace --cobuild ID`.
  if (s.cobuild && runId !== undefined) {
    const run = loadRun(s.db, runId);
    if (run) await s.cobuild.publishTrace(formatTrace(traceOfRun(s.db, run)));
  }
  s.db.close();
  return { summary, exitCode, ...(runId !== undefined ? { runId } : {}) };
}

/**
 * Settles, without the scheduler, every node its stamps prove up to date
 * (up-to-date.ts): on a no-op build nearly all of them, at the cost of their stats.
 */
async function settleUpToDate(s: BuildSession, inScope: string[]): Promise<Set<string>> {
  const replays: Promise<void>[] = [];
  const proven = settleByStamps(inScope, s.byId, s.states, s.ws.root, s.opts.env, rules, {
    vouched: s.opts.vouched,
    allowed: (node, known) => !s.opts.audit && !s.opts.overrides.has(node.id) && !s.cache.owes(known.key),
    settled: (node, known, startedAt) => {
      s.timeline.startNode(node.id, 0);
      s.meta.set(node.id, {});
      const durationMs = Math.round((performance.now() - startedAt) * 10) / 10;
      const settle = (log: Buffer | null) => s.cached(node, known.key, known.outputDigest, 'up to date', durationMs, log);
      if (known.log && s.opts.replayLogs) replays.push(s.cache.readLog(known.log).then(settle));
      else settle(null);
    },
  });
  await Promise.all(replays);
  return proven;
}

/** The upstream commits a run built: what its history row says it was about. */
function upstreamHeads(s: BuildSession): UpstreamHead[] {
  const heads: UpstreamHead[] = [];
  for (const n of s.ws.nodes) {
    // The rule first: most nodes follow no upstream, and a lookup by id in a 100,000-node build is not free.
    if (!rules.get(n.rule)?.upstream) continue;
    const m = s.meta.get(n.id);
    if (m?.commit) heads.push({ node: n.id, url: m.url ?? '', ref: m.ref ?? '', commit: m.commit });
  }
  return heads;
}
