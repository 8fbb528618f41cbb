import { childProcess } from '../../engine/lazy-builtins.js';
import { git as runGit, GitRuleError } from '../git/exec.js';

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface GitOptions {
  cwd: string;
  env: Record<string, string>;
  input?: string | Buffer;
  signal?: AbortSignal;
}

/** Fixed identity and dates: commits made here never depend on who or when. */
const FIXED_DATE = '1970-01-01T00:00:00+0000';

/**
 * The environment every git process of this rule sees: no system or user
 * config (so `diff.algorithm`, `core.autocrlf`, hooks paths, ... of the
 * machine cannot change a result), C locale (messages are parsed), fixed
 * identity. Nothing else from the caller leaks in.
 */
export function gitEnv(base: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {
    PATH: base.PATH ?? '/usr/bin:/bin',
    LANG: 'C',
    LC_ALL: 'C',
    TZ: 'UTC',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: 'kiln',
    GIT_AUTHOR_EMAIL: 'kiln@localhost',
    GIT_AUTHOR_DATE: FIXED_DATE,
    GIT_COMMITTER_NAME: 'kiln',
    GIT_COMMITTER_EMAIL: 'kiln@localhost',
    GIT_COMMITTER_DATE: FIXED_DATE,
  };
  if (base.HOME !== undefined) env.HOME = base.HOME;
  if (base.TMPDIR !== undefined) env.TMPDIR = base.TMPDIR;
  return env;
}

/** Config that must not vary between machines; passed as `-c` to every git call. */
const FIXED_CONFIG = [
  'core.autocrlf=false',
  'core.quotepath=false',
  'gc.auto=0',
  'merge.conflictStyle=merge',
  'apply.whitespace=nowarn',
  'commit.gpgSign=false',
  'rerere.enabled=false',
  'advice.detachedHead=false',
];

/** Runs git with fixed config; never throws for a non-zero exit (the caller decides). */
export async function git(args: string[], opts: GitOptions): Promise<GitResult> {
  try {
    const r = await runGit([...FIXED_CONFIG.flatMap((c) => ['-c', c]), ...args], opts);
    return { code: r.code, stdout: r.stdout.toString('utf8'), stderr: r.stderr };
  } catch (e) {
    // The git rule's runner rejects on cancellation; this rule reports it as a result.
    if (e instanceof GitRuleError && e.message === 'cancelled') return { code: -1, stdout: '', stderr: 'cancelled' };
    throw e;
  }
}

/**
 * `git producer | git consumer` without holding the producer's output in
 * memory (a `log -p` over a thousand upstream commits can be large).
 */
export function gitPipe(producer: string[], consumer: string[], opts: GitOptions): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const spawnOpts = { cwd: opts.cwd, env: opts.env, ...(opts.signal ? { signal: opts.signal } : {}) };
    const a = childProcess().spawn('git', [...FIXED_CONFIG.flatMap((c) => ['-c', c]), ...producer], { ...spawnOpts, stdio: ['pipe', 'pipe', 'pipe'] });
    const b = childProcess().spawn('git', [...FIXED_CONFIG.flatMap((c) => ['-c', c]), ...consumer], { ...spawnOpts, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    a.stdin.end(opts.input ?? '');
    a.stdout.pipe(b.stdin);
    b.stdin.on('error', () => {});
    a.stderr.on('data', (c: Buffer) => err.push(c));
    b.stderr.on('data', (c: Buffer) => err.push(c));
    b.stdout.on('data', (c: Buffer) => out.push(c));
    let aCode: number | null = null;
    let failed = false;
    const onError = (e: NodeJS.ErrnoException) => {
      if (failed) return;
      failed = true;
      if (e.name === 'AbortError') resolve({ code: -1, stdout: '', stderr: 'cancelled' });
      else reject(e);
    };
    a.on('error', onError);
    b.on('error', onError);
    a.on('close', (code) => (aCode = code ?? -1));
    b.on('close', (code) => {
      if (failed) return;
      // Both have closed their pipes by now; wait for a's exit status too.
      const done = () =>
        resolve({
          code: aCode !== 0 ? (aCode ?? -1) : (code ?? -1),
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
        });
      if (aCode !== null) done();
      else a.once('close', done);
    });
  });
}
