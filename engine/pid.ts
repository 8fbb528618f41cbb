import fs from 'node:fs';

/**
 * Whether a process exists and can still run, for stale lock, temp-file
 * and daemon cleanup. EPERM: it exists, owned by someone else. A zombie (on
 * Linux, state Z in /proc) has exited and only waits for a reaper that, in
 * a container, may never come: not alive. Not a positive integer: no
 * (kill(0, 0) would probe our own process group).
 */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

function isZombie(pid: number): boolean {
  return procStat(pid)?.[0] === 'Z'; // no /proc (not Linux), or gone meanwhile: kill(0) said it exists
}

/**
 * The fields of /proc/PID/stat after the command name (which may hold
 * spaces and parentheses): [0] is the state (field 3 overall), [19] the
 * start time in clock ticks since boot (field 22). Undefined without /proc.
 */
export function procStat(pid: number): string[] | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}
