import fs from 'node:fs';
import path from 'node:path';
import { sha256Hex } from '../../engine/keys/hash/sha256.js';
import { git, gitPipe } from './git.js';

/** How far back the upstream first-parent history is searched for a patch's patch-id. */
export const UPSTREAM_SEARCH_LIMIT = 1000;

export interface UpstreamCommit {
  sha: string;
  subject: string;
}

const SHA = /^[0-9a-f]{40}$/;

/**
 * Stable patch-ids of the last `limit` first-parent commits of `commit` in
 * a mirror (a merge counts as its diff against its first parent, which is
 * how Gerrit-style "Merge "..."" commits carry a change).
 *
 * Patch-ids are kept per commit in the kiln cache dir, one append-only
 * file per mirror: history never changes under a commit id, so when
 * upstream moves only the new commits are diffed.
 */
export async function upstreamPatchIds(
  mirror: string,
  commit: string,
  cacheDir: string,
  env: Record<string, string>,
  signal: AbortSignal,
  limit = UPSTREAM_SEARCH_LIMIT,
): Promise<Map<string, UpstreamCommit>> {
  const list = await git(['rev-list', '--first-parent', `--max-count=${limit}`, commit, '--'], { cwd: mirror, env, signal });
  if (list.code !== 0) throw new Error(`cannot list upstream history of ${commit.slice(0, 10)} in ${mirror}: ${firstLine(list.stderr)}`);
  const shas = list.stdout.split('\n').filter((s) => SHA.test(s));

  const storeFile = path.join(cacheDir, 'patches', 'patch-ids', `${sha256Hex(path.resolve(mirror)).slice(0, 24)}.tsv`);
  const known = readStore(storeFile);
  const missing = shas.filter((s) => !known.has(s));
  if (missing.length > 0) {
    const subjects = await git(['log', '--no-walk=unsorted', '--stdin', '--format=%H%x09%s'], {
      cwd: mirror, env, signal, input: `${missing.join('\n')}\n`,
    });
    if (subjects.code !== 0) throw new Error(`cannot read upstream commits in ${mirror}: ${firstLine(subjects.stderr)}`);
    const ids = await gitPipe(
      ['log', '--no-walk=unsorted', '--stdin', '-p', '--diff-merges=first-parent', '--no-color', '--no-ext-diff', '--format=commit %H'],
      ['patch-id', '--stable'],
      { cwd: mirror, env, signal, input: `${missing.join('\n')}\n` },
    );
    if (ids.code !== 0) throw new Error(`cannot compute upstream patch-ids in ${mirror}: ${firstLine(ids.stderr)}`);
    const idsByCommit = new Map<string, string[]>();
    for (const line of ids.stdout.split('\n')) {
      const [pid, sha] = line.split(' ');
      if (pid && sha && SHA.test(sha)) idsByCommit.set(sha, [...(idsByCommit.get(sha) ?? []), pid]);
    }
    const added: string[] = [];
    for (const line of subjects.stdout.split('\n')) {
      const tab = line.indexOf('\t');
      const sha = line.slice(0, tab);
      if (tab < 0 || !SHA.test(sha)) continue;
      const subject = line.slice(tab + 1).replace(/[\t\r\n]/g, ' ');
      const pids = idsByCommit.get(sha) ?? [];
      known.set(sha, { pids, subject });
      added.push(`${sha}\t${pids.join(',') || '-'}\t${subject}\n`);
    }
    try {
      fs.mkdirSync(path.dirname(storeFile), { recursive: true });
      // One append per batch: concurrent kiln processes may both add a commit, which is harmless.
      fs.appendFileSync(storeFile, added.join(''));
    } catch {
      /* a read-only cache only costs time */
    }
  }
  const byPatchId = new Map<string, UpstreamCommit>();
  for (const sha of shas) {
    const c = known.get(sha);
    if (!c) continue;
    // Newest first: the most recent commit carrying a change is the one named.
    for (const pid of c.pids) if (!byPatchId.has(pid)) byPatchId.set(pid, { sha, subject: c.subject });
  }
  return byPatchId;
}

function readStore(file: string): Map<string, { pids: string[]; subject: string }> {
  const known = new Map<string, { pids: string[]; subject: string }>();
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return known;
  }
  for (const line of text.split('\n')) {
    const [sha, pids, ...subject] = line.split('\t');
    if (!sha || !SHA.test(sha) || pids === undefined || subject.length === 0) continue;
    const list = pids === '-' ? [] : pids.split(',');
    if (list.some((p) => !SHA.test(p))) continue; // a torn line from a crashed writer
    known.set(sha, { pids: list, subject: subject.join('\t') });
  }
  return known;
}

/** Stable patch-ids of the changes in a patch file (one per message of an mbox; none for an empty patch). */
export async function patchIdsOf(text: Buffer, env: Record<string, string>, cwd: string, signal: AbortSignal): Promise<string[]> {
  const r = await git(['patch-id', '--stable'], { cwd, env, signal, input: text });
  if (r.code !== 0) return [];
  return r.stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((p) => SHA.test(p));
}

/**
 * Whether a patch applies (or, reversed, un-applies) cleanly to a plain
 * directory. Runs git outside any repository: the ceiling keeps git from
 * finding the workspace's own repository above the tree (inside it, git
 * would apply paths relative to that repository's top).
 */
export async function appliesTo(
  treeDir: string,
  text: Buffer,
  strip: number,
  reverse: boolean,
  env: Record<string, string>,
  signal: AbortSignal,
): Promise<boolean> {
  const r = await git(['apply', '--check', `-p${strip}`, ...(reverse ? ['--reverse'] : [])], {
    cwd: treeDir,
    // Real path: git compares the ceiling with its (symlink-free) cwd.
    env: { ...env, GIT_CEILING_DIRECTORIES: fs.realpathSync(path.dirname(treeDir)) },
    signal,
    input: text,
  });
  return r.code === 0;
}

export function firstLine(s: string): string {
  return s.trim().split('\n')[0] ?? '';
}
