import { childProcess } from '../lazy-builtins.js';

/**
 * The tracer: Debian's strace, following forks (-f), printing every string
 * in hex (-xx: paths with any bytes survive) and the path behind every
 * descriptor (-y, so `openat(3</a/dir>, "x")` and `AT_FDCWD</cwd>` name
 * their directory). Only calls that name files, make processes, change the
 * directory by descriptor or list directories are traced, and with
 * --seccomp-bpf only those stop the process (strace falls back to stopping
 * at every call where seccomp is unavailable): a Python test run costs
 * about half as much again as without it.
 */
const STRACE_ARGS = ['--seccomp-bpf', '-f', '-qq', '-xx', '-y', '-e', 'trace=%file,%process,fchdir,getdents,getdents64', '-e', 'signal=none'];

/** `file args...` run under strace, which appends its trace to `traceFile` (a node may run several commands). */
export function tracedCommand(file: string, args: string[], traceFile: string): { file: string; args: string[] } {
  return { file: 'strace', args: [...STRACE_ARGS, '-A', '-o', traceFile, '--', file, ...args] };
}

let available: string | true | undefined;

/** True when strace runs here; else what to tell the user. Asked once per process. */
export function straceAvailable(): true | string {
  if (available !== undefined) return available;
  const r = childProcess().spawnSync('strace', ['-V'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    available = 'tracing needs strace (Debian: apt-get install strace)';
  } else {
    // Inside some containers ptrace is refused: find out now, not in the middle of a build.
    const probe = childProcess().spawnSync('strace', ['-f', '-qq', '-e', 'trace=none', '--', 'true'], { encoding: 'utf8' });
    available = probe.status === 0 ? true : `strace cannot trace here: ${(probe.stderr || '').trim().split('\n')[0] || `exit ${probe.status}`} (ptrace may be forbidden in this container)`;
  }
  return available;
}
