/**
 * Whether a process exists, for stale lock and temp-file cleanup. EPERM: it
 * exists, owned by someone else. Not a positive integer: no (kill(0, 0)
 * would probe our own process group).
 */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
