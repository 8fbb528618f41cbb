import os from 'node:os';
import { didYouMean, UserError } from '../../diagnostic.js';
import { quietBuild } from '../../chase/quiet-build.js';
import { bisectRange, resolveProject, type UpstreamCommit } from '../../chase/upstream.js';
import { depViews } from '../../pipeline/node-context.js';
import type { NodeSummary } from '../../pipeline/summary.js';
import { parseCommand, MAX_JOBS, positiveInt, resolveCacheDir } from '../args.js';
import { loadForCommand, selectForCommand } from '../workspace.js';
import { rules } from '../../../rules/index.js';
import { remoteFor } from '../build-options.js';
import { nodeIndex } from '../../graph/node-index.js';

const USAGE = `usage: kiln bisect NODE --good SHA --bad SHA [--project ID]

Finds the first upstream commit (first-parent, between --good and --bad) at
which NODE fails: its own failure (a test) or a failure it depends on (a
patch that no longer applies). Every probe is a build, so results already in
the cache cost nothing. Prints the commit, its subject and the failing log.

  --project ID          the git project to move (default: the only one NODE depends on)
  -j, --jobs N          parallel nodes (default: available cores)
  --offline             do not fetch the project's mirror first`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(
    'bisect',
    argv,
    {
      good: { type: 'string' },
      bad: { type: 'string' },
      project: { type: 'string' },
      jobs: { type: 'string', short: 'j' },
      offline: { type: 'boolean' },
    },
    USAGE,
  );
  if (positionals.length !== 1 || !values.good || !values.bad) {
    throw new UserError([{ message: 'bisect: expects NODE --good SHA --bad SHA', hint: "run 'kiln bisect --help'" }]);
  }
  const ws = await loadForCommand(values);
  const target = positionals[0]!;
  const node = nodeIndex(ws).get(target);
  if (!node) {
    const guess = didYouMean(target, ws.nodes.map((n) => n.id));
    throw new UserError([{ message: `bisect: no node '${target}'`, ...(guess ? { hint: `did you mean '${guess}'?` } : {}) }]);
  }
  const upstreamIds = [...depViews(ws, node, new Map()).keys(), node.id].filter((id) => rules.get(nodeIndex(ws).get(id)!.rule)?.upstream);
  const projectId = values.project ?? (upstreamIds.length === 1 ? upstreamIds[0] : undefined);
  if (!projectId || !upstreamIds.includes(projectId)) {
    throw new UserError([
      {
        message: values.project ? `bisect: '${target}' does not depend on git project '${values.project}'` : `bisect: '${target}' depends on ${upstreamIds.length} git projects`,
        hint: upstreamIds.length > 0 ? `pick one with --project: ${upstreamIds.join(', ')}` : 'bisect moves a git project node',
      },
    ]);
  }
  const project = nodeIndex(ws).get(projectId)!;
  const cacheDir = resolveCacheDir(values);
  const signal = new AbortController().signal;
  const head = await resolveProject(ws, project, { cacheDir, offline: Boolean(values.offline), signal });
  if ('error' in head) throw new UserError([{ node: project.id, message: head.error }], 1);
  const range = await bisectRange(head.mirror, values.good, values.bad);
  if ('error' in range) throw new UserError([{ message: `bisect: ${range.error}` }]);
  const jobs = values.jobs !== undefined ? positiveInt('bisect', 'jobs', values.jobs, MAX_JOBS) : os.availableParallelism();
  const selected = selectForCommand(ws, [target]);
  const remote = await remoteFor(ws, {});

  const probes = new Map<string, { ok: boolean; failure: string }>();
  const probe = async (c: UpstreamCommit) => {
    const { summary, failedLogs } = await quietBuild(ws, {
      selected,
      overrides: new Map([[project.id, c.sha]]),
      jobs,
      cacheDir,
      signal,
      command: 'bisect',
      ...(remote ? { remote } : {}),
    });
    const result = { ok: isGood(summary.nodes.find((n) => n.id === target)!), failure: describeFailure(summary.nodes, failedLogs) };
    probes.set(c.sha, result);
    process.stdout.write(`kiln bisect: ${c.sha.slice(0, 10)} ${result.ok ? 'good' : 'bad '}  "${c.subject}"\n`);
    return result;
  };

  // Invariant: everything up to `lo` is good (--good itself is -1), `hi` is bad.
  let lo = -1;
  let hi = range.length - 1;
  if (hi < 0) throw new UserError([{ message: 'bisect: --bad is --good: nothing to search' }]);
  if ((await probe(range[hi]!)).ok) {
    process.stdout.write(`kiln bisect: '${target}' does not fail at --bad ${values.bad}: nothing to find\n`);
    return 1;
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if ((await probe(range[mid]!)).ok) lo = mid;
    else hi = mid;
  }
  const first = range[hi]!;
  process.stdout.write(
    `\nfirst bad commit: ${first.sha} "${first.subject}"\n` +
      `(${probes.size} builds for ${range.length} commits in ${values.good.slice(0, 10)}..${values.bad.slice(0, 10)})\n\n` +
      `${probes.get(first.sha)!.failure}\n`,
  );
  return 0;
}

function isGood(n: NodeSummary): boolean {
  return n.status === 'built' || n.status === 'cached';
}

/**
 * The failures of the probe with their logs: what a person needs to see.
 * A rule that writes its report to the log and names it in its error too
 * (a patch conflict) is shown once, from the log.
 */
function describeFailure(nodes: NodeSummary[], logs: Map<string, string>): string {
  const failed = nodes.filter((n) => n.status === 'failed');
  return (
    failed
      .map((n) => {
        const log = logs.get(n.id)?.trimEnd();
        if (log === undefined) return `${n.id}: ${n.error}`;
        return log.includes((n.error ?? '').trim()) ? `${n.id}:\n${log}` : `${n.id}: ${n.error}\n${log}`;
      })
      .join('\n\n') || 'no node failed'
  );
}
