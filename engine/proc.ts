import type { ChildProcess } from 'node:child_process';
import { childProcess } from './lazy-builtins.js';

export interface ProcResult {
  /** Wall time from just before spawn to the process's exit, in ms. */
  ms: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface ProcOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Own process group, so the whole group can be killed (process.kill(-pid)). */
  detached?: boolean;
  /** SIGKILL the process (its group when detached) after this long: a hung kiln must not hang the bench. */
  timeoutMs?: number;
}

export interface Started {
  child: ChildProcess;
  done: Promise<ProcResult>;
}

/**
 * Spawns a process and times it. The clock stops at 'exit' (not 'close'), so
 * time spent draining its pipes into this process is not counted.
 */
export function start(cmd: string, args: string[], opts: ProcOptions = {}): Started {
  const t0 = performance.now();
  const child = childProcess().spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env,
    detached: opts.detached ?? false,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let ms = 0;
  let timedOut = false;
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout!.on('data', (c: Buffer) => stdout.push(c));
  child.stderr!.on('data', (c: Buffer) => stderr.push(c));
  child.on('exit', () => (ms = performance.now() - t0));
  const timer = opts.timeoutMs
    ? setTimeout(() => {
        timedOut = true;
        killHard(child, opts.detached ?? false);
      }, opts.timeoutMs)
    : undefined;
  const done = new Promise<ProcResult>((resolve, reject) => {
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        ms,
        code,
        signal,
        stdout: Buffer.concat(stdout).toString(),
        stderr: Buffer.concat(stderr).toString(),
        timedOut,
      });
    });
  });
  return { child, done };
}

export function run(cmd: string, args: string[], opts: ProcOptions = {}): Promise<ProcResult> {
  return start(cmd, args, opts).done;
}

/** SIGKILL a child (its whole process group when it was spawned detached). False if it had already exited. */
export function killHard(child: ChildProcess, group: boolean): boolean {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return false;
  try {
    process.kill(group ? -child.pid : child.pid, 'SIGKILL');
    return true;
  } catch {
    return false; // exited between the check and the kill
  }
}

/** Last lines of a process's output, for error messages. */
export function outputTail(r: ProcResult, lines = 20): string {
  return `${r.stderr}${r.stdout}`.trimEnd().split('\n').slice(-lines).join('\n');
}

/** The result of a process that must have exited 0 (and in time), else an error with its output's tail. */
export function ok(label: string, r: ProcResult): ProcResult {
  if (r.timedOut) throw new Error(`${label} timed out\n${outputTail(r)}`);
  if (r.code !== 0) throw new Error(`${label} exited with ${r.code ?? r.signal}\n${outputTail(r)}`);
  return r;
}
