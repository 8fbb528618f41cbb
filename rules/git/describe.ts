import { git, gitOk } from './exec.js';

export interface CommitInfo {
  commit: string;
  tree: string;
  /** Committer date, unix seconds. */
  epoch: number;
  subject: string;
}

type Opts = { signal?: AbortSignal };

/** Reads a commit object directly (plumbing: no log/pretty config can change the answer). */
export async function readCommit(gitDir: string, commit: string, o: Opts): Promise<CommitInfo> {
  const raw = await gitOk(['--git-dir', gitDir, 'cat-file', 'commit', commit], o, (r) => `cannot read commit ${commit}: ${r}`);
  const split = raw.indexOf('\n\n');
  const headers = (split === -1 ? raw : raw.slice(0, split)).split('\n');
  const message = split === -1 ? '' : raw.slice(split + 2);
  const tree = headers.find((h) => h.startsWith('tree '))?.slice(5) ?? '';
  const committer = headers.find((h) => h.startsWith('committer ')) ?? '';
  const epoch = Number(/> (-?\d+) [+-]\d{4}$/.exec(committer)?.[1] ?? 0);
  // Like %s: the first paragraph, its lines joined with spaces.
  const subject = (message.split(/\n[ \t]*\n/)[0] ?? '').split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
  return { commit, tree, epoch, subject };
}

/** `2024-05-01T12:00:00Z` */
export function isoUtc(epoch: number): string {
  return new Date(epoch * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const RELEASE = /^(\d+)\.(\d+)\.(\d+)$/;

/**
 * pbr-style version of `commit`:
 * - the commit carries a tag `X.Y.Z` (the highest, if several): `X.Y.Z`;
 * - else the nearest `X.Y.Z` tag on first-parent history, N commits back:
 *   `X.Y.(Z+1).devN+g<7 hex>` (N counted like `git describe --first-parent`);
 * - no such tag: `0.0.0.devN+g<7 hex>`, N = commits on first-parent history.
 * The short id has a fixed 7 digits, so the string does not change as the
 * repository grows.
 */
export async function pbrVersion(gitDir: string, commit: string, o: Opts): Promise<string> {
  const refs = await gitOk(
    ['--git-dir', gitDir, 'for-each-ref', '--format=%(objectname) %(*objectname) %(refname:strip=2)', 'refs/tags'],
    o,
    (r) => `cannot list tags: ${r}`,
  );
  const tagged = new Map<string, number[]>();
  for (const line of refs.split('\n')) {
    const [obj, peeled, name] = line.split(' ');
    const m = RELEASE.exec(name ?? '');
    if (!m || !obj) continue;
    const target = peeled || obj;
    const v = [Number(m[1]), Number(m[2]), Number(m[3])];
    const best = tagged.get(target);
    if (!best || compare(v, best) > 0) tagged.set(target, v);
  }
  const short = `g${commit.slice(0, 7)}`;
  const exact = tagged.get(commit);
  if (exact) return exact.join('.');
  let distance = 0;
  let base: number[] | undefined;
  if (tagged.size > 0) {
    const r = await git(['--git-dir', gitDir, 'rev-list', '--first-parent', commit], o);
    const ids = r.stdout.toString('utf8').split('\n');
    for (; distance < ids.length && ids[distance] !== ''; distance++) {
      base = tagged.get(ids[distance]!);
      if (base) break;
    }
  } else {
    const count = await gitOk(['--git-dir', gitDir, 'rev-list', '--first-parent', '--count', commit], o, (r) => `cannot count commits: ${r}`);
    distance = Number(count);
  }
  if (!base) return `0.0.0.dev${distance}+${short}`;
  return `${base[0]}.${base[1]}.${base[2]! + 1}.dev${distance}+${short}`;
}

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}
