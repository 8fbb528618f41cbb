// kiln runs each node command in its own process group (so it can kill the
// command's children on cancel). A SIGKILL of kiln and of kiln's group
// therefore leaves running commands behind. The crash soak waits for them so
// that a stale command from one iteration cannot write into the next one.
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** Pids of live processes whose working directory is `dir` or below it (Linux /proc). */
export function processesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cwd = fs.readlinkSync(`/proc/${name}/cwd`);
      if (cwd === dir || cwd.startsWith(`${dir}/`)) pids.push(Number(name));
    } catch {
      // gone, a zombie, or not ours to inspect
    }
  }
  return pids;
}

/** Waits until no process runs under `dir`. Returns how many were seen at first; throws if some outlive the timeout. */
export async function waitForOrphans(dir: string, timeoutMs: number): Promise<number> {
  const first = processesUnder(dir).length;
  const deadline = performance.now() + timeoutMs;
  for (let left = first; left > 0; left = processesUnder(dir).length) {
    if (performance.now() > deadline) throw new Error(`${left} processes still running under ${dir} after ${timeoutMs} ms`);
    await sleep(20);
  }
  return first;
}
