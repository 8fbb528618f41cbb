import * as v from 'valibot';
import type { NodeLog, Rule, RuleContext, RuleOutcome } from './rule.js';

/** Grace period between SIGTERM and SIGKILL when a node is cancelled. */
const KILL_GRACE_MS = 2000;

/** `cmd`-like attributes: a string runs with `sh -c`, a list runs as argv. */
export const COMMAND_SCHEMA = v.union(
  [v.pipe(v.string(), v.minLength(1)), v.pipe(v.array(v.string()), v.minLength(1))],
  'expected a non-empty string or a non-empty list of strings',
);

/** `timeout` attributes: whole seconds, optional. */
export const TIMEOUT_SCHEMA = v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), undefined);

/**
 * Generic command node. A string `cmd` runs through `sh -c` (pipes, globs);
 * a list runs as argv with no shell. The process group is killed on abort so
 * no grandchild outlives a cancelled build.
 */
export const runRule: Rule = {
  id: 'run',
  version: 1,
  description: 'Runs a command in the node directory',
  attributes: {
    cmd: COMMAND_SCHEMA,
    timeout: TIMEOUT_SCHEMA,
  },
  required: ['cmd'],
  run: (ctx: RuleContext) =>
    runProcess(ctx, {
      cmd: ctx.node.attrs.cmd as string | string[],
      cwd: ctx.cwd,
      env: ctx.env,
      timeoutSeconds: ctx.node.attrs.timeout as number | undefined,
    }),
};

export interface ProcessSpec {
  cmd: string | string[];
  /** Absolute working directory. */
  cwd: string;
  /** The complete environment (nothing else leaks in). */
  env: Record<string, string>;
  timeoutSeconds?: number | undefined;
  /** Sees every stdout chunk as well as the node log (e.g. to parse TAP). */
  onStdout?: (chunk: Buffer) => void;
}

/**
 * Runs one command for a rule, its output going to the node log. The
 * command gets its own process group, killed (SIGTERM, then SIGKILL after a
 * grace period) on abort or timeout, so no grandchild outlives it.
 */
export async function runProcess(ctx: { signal: AbortSignal; log: NodeLog }, spec: ProcessSpec): Promise<RuleOutcome> {
  // Loaded on first use: execa costs ~150 ms to import, which a no-op build never needs.
  const { execa } = await import('execa');
  const { cmd, timeoutSeconds } = spec;
  const [file, args] = typeof cmd === 'string' ? ['/bin/sh', ['-c', cmd]] : [cmd[0]!, cmd.slice(1)];
  const child = execa(file, args, {
    cwd: spec.cwd,
    env: spec.env,
    extendEnv: false,
    stdin: 'ignore',
    buffer: false,
    reject: false,
    detached: true, // own process group, so we can kill grandchildren too
    cancelSignal: ctx.signal,
    forceKillAfterDelay: KILL_GRACE_MS,
    ...(timeoutSeconds ? { timeout: timeoutSeconds * 1000 } : {}),
  });
  const killGroup = () => {
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGTERM');
        setTimeout(() => {
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            /* group already gone */
          }
        }, KILL_GRACE_MS).unref();
      } catch {
        /* group already gone */
      }
    }
  };
  ctx.signal.addEventListener('abort', killGroup, { once: true });
  child.stdout?.on('data', (chunk: Buffer) => {
    ctx.log.write('stdout', chunk);
    spec.onStdout?.(chunk);
  });
  child.stderr?.on('data', (chunk: Buffer) => ctx.log.write('stderr', chunk));
  try {
    const result = await child;
    if (result.isCanceled || ctx.signal.aborted) return { ok: false, error: 'cancelled' };
    if (result.timedOut) {
      killGroup();
      return { ok: false, error: `timed out after ${timeoutSeconds}s` };
    }
    if (result.failed) {
      if (result.exitCode !== undefined) return { ok: false, error: `command exited with code ${result.exitCode}` };
      if (result.signal) return { ok: false, error: `command killed by ${result.signal}` };
      return { ok: false, error: result.shortMessage ?? 'command failed' };
    }
    return { ok: true };
  } finally {
    ctx.signal.removeEventListener('abort', killGroup);
  }
}
