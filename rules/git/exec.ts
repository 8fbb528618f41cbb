import { childProcess } from '../../engine/lazy-builtins.js';

/**
 * A user-facing failure of the git rule (bad ref, unreachable URL, lock
 * timeout...). Its message is what the node's error says; the rule turns it
 * into a failed outcome, never a stack trace.
 */
export class GitRuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GitRuleError';
  }
}

export interface GitResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/**
 * Variables that would point git at another repository, index or object
 * store than the one we name (kiln run from a git hook sets GIT_DIR, for
 * instance), or rewrite objects behind our back (replace refs, grafts).
 */
const REPO_LOCATING = new Set([
  'GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_INDEX_VERSION', 'GIT_OBJECT_DIRECTORY',
  'GIT_ALTERNATE_OBJECT_DIRECTORIES', 'GIT_COMMON_DIR', 'GIT_NAMESPACE', 'GIT_PREFIX',
  'GIT_QUARANTINE_PATH', 'GIT_REPLACE_REF_BASE', 'GIT_GRAFT_FILE', 'GIT_SHALLOW_FILE',
  'GIT_LITERAL_PATHSPECS', 'GIT_GLOB_PATHSPECS', 'GIT_NOGLOB_PATHSPECS', 'GIT_ICASE_PATHSPECS',
]);

/**
 * The environment git runs with: the caller's (network settings such as
 * proxies, SSH agent and credential helpers are not hashed and may be
 * needed to fetch), minus repository-locating variables, with prompts off
 * (an unreachable https URL must fail, not wait for a password), stable
 * English messages, literal pathspecs and no replace objects.
 */
export function gitEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !REPO_LOCATING.has(k)) env[k] = v;
  return {
    ...env,
    GIT_TERMINAL_PROMPT: '0',
    GIT_NO_REPLACE_OBJECTS: '1',
    GIT_LITERAL_PATHSPECS: '1',
    LC_ALL: 'C',
    LANGUAGE: 'C',
    ...extra,
  };
}

export interface GitOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Written to stdin, which is then closed; stdin is empty otherwise. */
  input?: string | Buffer;
  signal?: AbortSignal;
}

/** Runs git to completion and collects its output; never rejects on a non-zero exit. */
export function git(args: string[], opts: GitOptions = {}): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const child = childProcess().spawn('git', args, {
      cwd: opts.cwd,
      env: opts.env ?? gitEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.stdin.on('error', () => {
      /* git exited before reading all its input: its exit status says why */
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.name === 'AbortError') reject(new GitRuleError('cancelled'));
      else if (e.code === 'ENOENT') reject(new GitRuleError('git is not installed (no `git` on PATH)'));
      else reject(e);
    });
    child.on('close', (code, signal) => {
      if (opts.signal?.aborted) return reject(new GitRuleError('cancelled'));
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs git and returns its trimmed stdout, or throws a GitRuleError built by `describe` from git's reason. */
export async function gitOk(args: string[], opts: GitOptions, describe: (reason: string) => string): Promise<string> {
  const r = await git(args, opts);
  if (r.code !== 0) throw new GitRuleError(describe(gitReason(r.stderr)));
  return r.stdout.toString('utf8').trim();
}

/**
 * git's one-line reason for a failure: the first `fatal:`/`error:` line
 * without its prefix (git often adds generic lines after it), else the first
 * non-empty line.
 */
export function gitReason(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const first = lines.find((l) => /^(fatal|error):/.test(l)) ?? lines[0] ?? 'git failed without a message';
  return first.replace(/^(fatal|error):\s*/, '');
}
