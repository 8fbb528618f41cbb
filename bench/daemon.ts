// Driving `kiln daemon` from benchmarks: start it, wait until it can answer,
// and check that a timed no-op really was answered by it (a declined request
// is a full build and would be timed under the wrong name).
import { kiln } from './kiln.js';

/** `workspace`: the flags naming the workspace, e.g. ['--npm', 'build'] for an npm workspace without kiln.yaml. */
export async function startDaemon(dir: string, workspace: string[] = []): Promise<void> {
  const r = await kiln(['daemon', 'start', ...workspace], dir);
  if (r.code !== 0) throw new Error(`kiln daemon start failed: ${r.stderr}${r.stdout}`);
}

export async function stopDaemon(dir: string, workspace: string[] = []): Promise<void> {
  await kiln(['daemon', 'stop', ...workspace], dir);
}

/** Builds the daemon answered so far; waits (untimed) until it is ready to answer, i.e. done proving. */
export async function readyDaemonAnswers(dir: string, workspace: string[] = []): Promise<number> {
  let last = '';
  for (let i = 0; i < 600; i++) {
    const r = await kiln(['daemon', 'status', ...workspace], dir);
    const answered = /(\d+) builds answered/.exec(r.stdout);
    if (!answered) throw new Error(`kiln daemon status: ${r.stdout}${r.stderr}`);
    if (r.stdout.includes('; ready')) return Number(answered[1]);
    last = r.stdout.trim();
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`kiln daemon never became ready: ${last}`);
}
