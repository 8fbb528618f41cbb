// A real upstream git project and a workspace that follows it, for the
// chase, bisect and report tests.
import path from 'node:path';
import { execa } from 'execa';
import { writeFiles } from './kiln.js';

/** The environment of git commands making upstream commits: a fixed author and date. */
export function gitEnv(): Record<string, string> {
  return {
    ...process.env,
    GIT_AUTHOR_NAME: 't',
    GIT_AUTHOR_EMAIL: 't@example.org',
    GIT_COMMITTER_NAME: 't',
    GIT_COMMITTER_EMAIL: 't@example.org',
    GIT_AUTHOR_DATE: '2026-11-01T10:00:00Z',
    GIT_COMMITTER_DATE: '2026-11-01T10:00:00Z',
  } as Record<string, string>;
}

export interface Upstream {
  dir: string;
  /** Writes the files, commits them all with this subject on master, returns the new commit's sha. */
  commit(files: Record<string, string>, subject: string): Promise<string>;
}

/** A new git repository at dir (branch master, no commit yet). */
export async function upstreamRepo(dir: string): Promise<Upstream> {
  await execa('git', ['init', '-q', '-b', 'master', dir]);
  const git = (...args: string[]) => execa('git', ['-C', dir, ...args], { env: gitEnv() });
  return {
    dir,
    async commit(files, subject) {
      writeFiles(dir, files);
      await git('add', '-A');
      await git('commit', '-q', '-m', subject);
      return (await git('rev-parse', 'HEAD')).stdout;
    },
  };
}

/** A workspace at ws: node `up` follows upstream's master, node `check` runs `cmd` as a test in its tree. */
export function followUpstream(ws: string, upstream: Upstream, cmd: string): void {
  writeFiles(ws, {
    'kiln.yaml': `nodes:
  up:
    rule: git
    url: ${path.resolve(upstream.dir)}
    ref: master
    outputs: [src]
  check:
    rule: test
    deps: [up]
    cmd: ${cmd}
`,
  });
}
