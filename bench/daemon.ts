// Driving `kiln daemon` from benchmarks: start it, wait until it can answer,
// and check who did a timed build: a no-op must have been answered from
// memory and an edit run by the daemon (a declined request is a full build in
// the client and would be timed under the wrong name).
import { kiln } from './kiln.js';

/** `workspace`: the flags naming the workspace, e.g. ['--npm', 'build'] for an npm workspace without kiln.yaml. */
export async function startDaemon(dir: string, workspace: string[] = []): Promise<void> {
  const r = await kiln(['daemon', 'start', ...workspace], dir);
  if (r.code !== 0) throw new Error(`kiln daemon start failed: ${r.stderr}${r.stdout}`);
}

export async function stopDaemon(dir: string, workspace: string[] = []): Promise<void> {
  await kiln(['daemon', 'stop', ...workspace], dir);
}

/** What the daemon did so far: builds answered from memory, and builds it ran. */
export interface DaemonCounts {
  fromMemory: number;
  ran: number;
}

/** The daemon's counts; waits (untimed) until it is ready to answer, i.e. done proving. */
export async function readyDaemonCounts(dir: string, workspace: string[] = []): Promise<DaemonCounts> {
  let last = '';
  for (let i = 0; i < 600; i++) {
    const r = await kiln(['daemon', 'status', ...workspace], dir);
    const m = /(\d+) builds answered \((\d+) run by the daemon\)/.exec(r.stdout);
    if (!m && r.stdout.includes('did not answer')) {
      last = r.stdout.trim(); // busy (re-proving a large workspace): ask again
      continue;
    }
    if (!m) throw new Error(`kiln daemon status: ${r.stdout}${r.stderr}`);
    if (r.stdout.includes('; ready')) return { fromMemory: Number(m[1]) - Number(m[2]), ran: Number(m[2]) };
    last = r.stdout.trim();
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`kiln daemon never became ready: ${last}`);
}

/** Throws unless the daemon did exactly one more build, the way `expected` says. */
export function expectDaemonDid(label: string, before: DaemonCounts, after: DaemonCounts, expected: keyof DaemonCounts): void {
  const other: keyof DaemonCounts = expected === 'ran' ? 'fromMemory' : 'ran';
  if (after[expected] !== before[expected] + 1 || after[other] !== before[other]) {
    const did = expected === 'ran' ? 'run it' : 'answer it from memory';
    throw new Error(`${label}: the daemon did not ${did} (before ${JSON.stringify(before)}, after ${JSON.stringify(after)})`);
  }
}
