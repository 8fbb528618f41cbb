import fs from 'node:fs';
import path from 'node:path';
import { isAlive, procStat } from '../pid.js';
import { STATE_DIR } from './state-dir.js';

/**
 * Commands run in their own process groups (so a timeout or Ctrl-C kills
 * their children too), which means a kiln killed with SIGKILL leaves them
 * running, still writing into the checkout. Each running command is
 * recorded under .kiln/running/ while it runs; the next build stops what a
 * dead kiln left behind before it starts, and says so.
 */
const RUNNING_DIR = 'running';
/** How long a left-over group gets after SIGTERM before SIGKILL. */
const GRACE_MS = 2000;

/** The start time of a process (Linux /proc): tells a left-over group from a new one reusing its id. */
const startTime = (pid: number): string | undefined => procStat(pid)?.[19];

/** Records a command's process group while it runs; call the returned function when it has exited. */
export function recordCommand(root: string, groupId: number, node: string): () => void {
  const dir = path.join(root, STATE_DIR, RUNNING_DIR);
  const file = path.join(dir, `${process.pid}.${groupId}`);
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(file, JSON.stringify({ node, start: startTime(groupId) ?? null }));
  } catch {
    return () => undefined; // a read-only checkout still builds; only this safety net is lost
  }
  return () => fs.rmSync(file, { force: true });
}

function groupAlive(groupId: number): boolean {
  try {
    process.kill(-groupId, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Stops the command groups that kiln processes which have since died left
 * running in this checkout (SIGTERM, then SIGKILL after a grace period), and
 * forgets their records. A group whose leader's start time differs from
 * the recorded one is someone else's now and is left alone. Returns the
 * nodes whose commands were stopped.
 */
export async function stopLeftoverCommands(root: string): Promise<{ node: string; kilnPid: number }[]> {
  const dir = path.join(root, STATE_DIR, RUNNING_DIR);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const stopped: { node: string; kilnPid: number; groupId: number }[] = [];
  for (const name of names) {
    const [kilnPid, groupId] = name.split('.').map(Number) as [number, number];
    if (!Number.isInteger(kilnPid) || !Number.isInteger(groupId) || isAlive(kilnPid)) continue; // a live kiln's own
    const file = path.join(dir, name);
    let record: { node: string; start: string | null };
    try {
      record = JSON.parse(fs.readFileSync(file, 'utf8')) as { node: string; start: string | null };
    } catch {
      record = { node: '?', start: null };
    }
    if (groupAlive(groupId) && record.start !== null && startTime(groupId) === record.start) {
      try {
        process.kill(-groupId, 'SIGTERM');
        stopped.push({ node: record.node, kilnPid, groupId });
      } catch {
        // gone meanwhile
      }
    }
    fs.rmSync(file, { force: true });
  }
  const deadline = Date.now() + GRACE_MS;
  while (stopped.some((s) => groupAlive(s.groupId)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const s of stopped) {
    try {
      process.kill(-s.groupId, 'SIGKILL');
    } catch {
      // exited on SIGTERM
    }
  }
  return stopped.map(({ node, kilnPid }) => ({ node, kilnPid }));
}
