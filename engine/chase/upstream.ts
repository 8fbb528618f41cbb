import { run } from '../proc.js';
import type { NodeDecl, Workspace } from '../buildfile/types.js';
import { formatDiagnostic } from '../diagnostic.js';
import { essentialEnv } from '../pipeline/node-env.js';
import { depViews } from '../pipeline/node-context.js';
import { rules } from '../../rules/index.js';

export interface UpstreamCommit {
  sha: string;
  subject: string;
  /** Committer time, unix seconds: chase builds commits of several projects in upstream order. */
  time: number;
}

/** What a git project node resolves to now: its declared ref's head and the mirror holding its history. */
export interface ProjectHead {
  node: string;
  commit: string;
  subject: string;
  time: number;
  mirror: string;
}

/** Resolves a git node as a build would (fetching unless offline), for its head commit and mirror. */
export async function resolveProject(
  ws: Workspace,
  node: NodeDecl,
  opts: { cacheDir: string; offline: boolean; signal: AbortSignal },
): Promise<ProjectHead | { error: string }> {
  const rule = rules.get(node.rule)!;
  const r = await rule.resolve!({
    node,
    root: ws.root,
    cwd: `${ws.root}/${node.dir}`,
    env: essentialEnv(process.env),
    signal: opts.signal,
    deps: depViews(ws, node, new Map()),
    cacheDir: opts.cacheDir,
    offline: opts.offline,
  });
  if (!r.ok) return { error: 'diagnostic' in r ? formatDiagnostic(r.diagnostic) : r.error };
  const { commit, subject, mirror, epoch } = r.value.meta;
  if (!commit || !mirror) return { error: `node '${node.id}' did not publish commit and mirror` };
  return { node: node.id, commit, subject: subject ?? '', time: Number(epoch ?? 0), mirror };
}

async function git(mirror: string, args: string[]): Promise<{ ok: boolean; stdout: string }> {
  const r = await run('git', ['--git-dir', mirror, ...args]);
  return { ok: r.code === 0, stdout: r.stdout.replace(/\n$/, '') };
}

/**
 * Commits after `from` up to `to`, oldest first, following first parents
 * (the order upstream merged them, not their timestamps). When `from` is
 * not an ancestor of `to` (history rewritten), only `to`.
 */
export async function firstParentRange(mirror: string, from: string | undefined, to: string): Promise<UpstreamCommit[]> {
  if (from === to) return [];
  if (from !== undefined && (await git(mirror, ['merge-base', '--is-ancestor', from, to])).ok) {
    const log = await git(mirror, ['log', '--first-parent', '--reverse', '--format=%H %ct %s', `${from}..${to}`]);
    return parseLog(log.stdout);
  }
  return parseLog((await git(mirror, ['log', '-1', '--format=%H %ct %s', to])).stdout);
}

/** Commits of `good..bad` in first-parent order, oldest first, `bad` last. */
export async function bisectRange(mirror: string, good: string, bad: string): Promise<UpstreamCommit[] | { error: string }> {
  for (const sha of [good, bad]) {
    if (!(await git(mirror, ['rev-parse', '--verify', '--quiet', `${sha}^{commit}`])).ok) {
      return { error: `commit '${sha}' is not in the upstream history (${mirror})` };
    }
  }
  if (!(await git(mirror, ['merge-base', '--is-ancestor', good, bad])).ok) {
    return { error: `--good ${good} is not an ancestor of --bad ${bad}` };
  }
  const log = await git(mirror, ['log', '--first-parent', '--reverse', '--format=%H %ct %s', `${good}..${bad}`]);
  return parseLog(log.stdout);
}

function parseLog(text: string): UpstreamCommit[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [sha, time] = line.split(' ', 2) as [string, string];
      return { sha, time: Number(time), subject: line.slice(sha.length + time.length + 2) };
    });
}
