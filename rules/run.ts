import * as v from 'valibot';
import type { NodeLog, Rule, RuleContext, RuleOutcome } from './rule.js';
import { recordCommand } from '../engine/state/running-commands.js';
import { childProcess } from '../engine/lazy-builtins.js';

/** Grace period between SIGTERM and SIGKILL when a node is cancelled. */
const KILL_GRACE_MS = 2000;

const COMMAND_SHAPE = 'expected a non-empty string or a non-empty list of strings';
const COMMAND_STRING = v.pipe(v.string(COMMAND_SHAPE), v.minLength(1, COMMAND_SHAPE));
const COMMAND_LIST = v.pipe(v.array(v.string('expected a string')), v.minLength(1, COMMAND_SHAPE));

/**
 * `cmd`-like attributes: a string runs with `sh -c`, a list runs as argv.
 * Chosen by the value's type, not a union: a union tries the string first,
 * and the issue it makes for a list (2 KB of garbage a node) is thrown away.
 * A list's bad item is then pointed at itself.
 */
export const COMMAND_SCHEMA = v.lazy((input) => (Array.isArray(input) ? COMMAND_LIST : COMMAND_STRING));

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
  traceable: true,
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
 * node:child_process directly: execa costs ~150 ms to import, paid by every
 * build that runs anything, and this needs none of what it adds.
 */
export async function runProcess(ctx: { signal: AbortSignal; log: NodeLog; root?: string; node?: { id: string }; trace?: string }, spec: ProcessSpec): Promise<RuleOutcome> {
  const { cmd, timeoutSeconds } = spec;
  const [command, commandArgs] = typeof cmd === 'string' ? ['/bin/sh', ['-c', cmd]] : [cmd[0]!, cmd.slice(1)];
  const { file, args } = ctx.trace ? (await import('../engine/tracing/strace.js')).tracedCommand(command, commandArgs, ctx.trace) : { file: command, args: commandArgs };
  if (ctx.signal.aborted) return { ok: false, error: 'cancelled' };
  const child = childProcess().spawn(file, args, {
    cwd: spec.cwd,
    env: spec.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // own process group, so we can kill grandchildren too
  });
  // Recorded while it runs: if this kiln is SIGKILLed, the next build stops the group (state/running-commands.ts).
  const forget = ctx.root !== undefined && child.pid !== undefined ? recordCommand(ctx.root, child.pid, ctx.node?.id ?? '?') : () => undefined;
  let stopped: 'cancelled' | 'timed out' | undefined;
  const killGroup = (why: 'cancelled' | 'timed out') => {
    stopped ??= why;
    signalGroup(child.pid, 'SIGTERM');
    setTimeout(() => signalGroup(child.pid, 'SIGKILL'), KILL_GRACE_MS).unref();
  };
  const onAbort = () => killGroup('cancelled');
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  const timer = timeoutSeconds ? setTimeout(() => killGroup('timed out'), timeoutSeconds * 1000) : undefined;
  child.stdout.on('data', (chunk: Buffer) => {
    ctx.log.write('stdout', chunk);
    spec.onStdout?.(chunk);
  });
  child.stderr.on('data', (chunk: Buffer) => ctx.log.write('stderr', chunk));
  try {
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null } | { error: Error }>((resolve) => {
      child.once('error', (error) => resolve({ error }));
      // 'close': the output pipes are drained too, so the log is complete.
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
    if (stopped === 'cancelled' || ctx.signal.aborted) return { ok: false, error: 'cancelled' };
    if (stopped === 'timed out') return { ok: false, error: `timed out after ${timeoutSeconds}s` };
    if ('error' in exit) return { ok: false, error: `cannot run '${command}': ${exit.error.message}` };
    if (exit.code !== 0) {
      return exit.code !== null ? { ok: false, error: `command exited with code ${exit.code}`, exitCode: exit.code } : { ok: false, error: `command killed by ${exit.signal}` };
    }
    return { ok: true };
  } finally {
    forget();
    clearTimeout(timer);
    ctx.signal.removeEventListener('abort', onAbort);
  }
}

/** Signals a whole process group; a group already gone is fine. */
function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    /* group already gone */
  }
}
