import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { UPLOAD_TID_BASE, type ChromeTrace, type TraceEvent } from '../engine/report/trace.js';
import { builtThenRestored, forkJoinWorkspace } from './fork-join.js';
import { kiln, tempDir } from './kiln.js';
import { startKilnServer } from './servers/start.js';

const TOKEN = 'trace-test-token';

const NODES = ['join', 'left', 'right'];
const spans = (t: ChromeTrace) => t.traceEvents.filter((e) => e.ph === 'X');
const nodeSpan = (t: ChromeTrace, id: string) => spans(t).find((e) => e.name === id && e.cat !== 'upload')!;
const threadNames = (t: ChromeTrace) =>
  Object.fromEntries(t.traceEvents.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => [e.tid, e.args!.name]));

/** Phases on a node's worker lane that lie within its span. */
function phasesOf(t: ChromeTrace, id: string): TraceEvent[] {
  const parent = nodeSpan(t, id);
  return spans(t).filter((e) => e.args?.node === id && e.tid === parent.tid);
}

describe('traces', () => {
  it('kiln build --profile: one lane per worker, phases nested in node spans, uploads on upload lanes', async () => {
    const server = await startKilnServer({ KILN_SERVE_TOKENS: TOKEN });
    onTestFinished(() => server.stop());
    const ws = forkJoinWorkspace();
    const env = { KILN_CACHE_DIR: tempDir('kiln-cache-'), KILN_REMOTE_CACHE: server.url, KILN_REMOTE_TOKEN: TOKEN };
    const profile = path.join(tempDir('kiln-profile-'), 'build.trace.json');
    const r = await kiln(ws, ['build', '-j', '2', '--profile', profile, 'join'], env);
    expect(r.exitCode, r.stderr).toBe(0);
    const trace = JSON.parse(fs.readFileSync(profile, 'utf8')) as ChromeTrace;

    expect(trace.displayTimeUnit).toBe('ms');
    expect(trace.otherData.kiln).toMatchObject({ run: 1, command: 'build', workers: 2, exitCode: 0 });
    const process = trace.traceEvents.find((e) => e.ph === 'M' && e.name === 'process_name')!;
    expect(process.args!.name).toBe(`kiln build -j 2 --profile ${profile} join (run 1)`);

    // One node span per node, on worker lanes 0 and 1; the two slow ones ran side by side.
    for (const id of NODES) expect(spans(trace).filter((e) => e.name === id)).toHaveLength(1);
    const [left, right, join] = ['left', 'right', 'join'].map((id) => nodeSpan(trace, id)) as [TraceEvent, TraceEvent, TraceEvent];
    expect(new Set([left.tid, right.tid])).toEqual(new Set([0, 1]));
    expect(threadNames(trace)).toMatchObject({ 0: 'worker 0', 1: 'worker 1' });
    for (const s of [left, right, join]) expect(s.args).toMatchObject({ status: 'built', cache: null, key: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(right.args!.bytes).toBe(5000);
    // Microseconds: the slow nodes took at least 0.3 s, and the join started after both ended.
    for (const s of [left, right]) expect(s.dur!).toBeGreaterThanOrEqual(290_000);
    expect(join.ts!).toBeGreaterThanOrEqual(Math.max(left.ts! + left.dur!, right.ts! + right.dur!) - 1000);

    // Phases nest: each lies within its node's [ts, ts+dur] on the same lane.
    for (const id of NODES) {
      const parent = nodeSpan(trace, id);
      const phases = phasesOf(trace, id);
      expect(phases.map((p) => p.name)).toEqual(['fetch', 'run', 'store']); // a remote miss first
      for (const p of phases) {
        expect(p.ts!).toBeGreaterThanOrEqual(parent.ts!);
        expect(p.ts! + p.dur!).toBeLessThanOrEqual(parent.ts! + parent.dur!);
      }
    }
    // Node spans on one lane never overlap: a worker runs one node at a time.
    for (const tid of [0, 1]) {
      const lane = NODES.map((id) => nodeSpan(trace, id)).filter((s) => s.tid === tid).sort((a, b) => a.ts! - b.ts!);
      for (let i = 1; i < lane.length; i++) expect(lane[i]!.ts!).toBeGreaterThanOrEqual(lane[i - 1]!.ts! + lane[i - 1]!.dur!);
    }

    // Every built node was uploaded, on upload lanes named as such.
    const uploads = spans(trace).filter((e) => e.cat === 'upload');
    expect(uploads.map((u) => u.args!.node).sort()).toEqual(NODES);
    for (const u of uploads) {
      expect(u.tid).toBeGreaterThanOrEqual(UPLOAD_TID_BASE);
      expect(threadNames(trace)[u.tid]).toBe(`upload ${u.tid - UPLOAD_TID_BASE}`);
      expect(u.ts!).toBeGreaterThanOrEqual(nodeSpan(trace, u.args!.node as string).ts!);
    }

    // kiln trace writes the same run again, from history.
    const out = path.join(tempDir('kiln-trace-'), 't.json');
    expect((await kiln(ws, ['trace', '1', '-o', out], env)).exitCode).toBe(0);
    expect(JSON.parse(fs.readFileSync(out, 'utf8'))).toEqual(trace);
  });

  it('kiln trace: restores as their own spans, last run by default, usage errors', async () => {
    const { ws, env } = await builtThenRestored();

    const r = await kiln(ws, ['trace'], env);
    expect(r.exitCode, r.stderr).toBe(0);
    const trace = JSON.parse(r.stdout) as ChromeTrace;
    expect(trace.otherData.kiln.run).toBe(2);
    for (const id of NODES) {
      expect(nodeSpan(trace, id).args).toMatchObject({ status: 'cached', cache: 'local' });
      expect(phasesOf(trace, id).map((p) => p.name)).toEqual(['restore']);
    }
    expect(spans(trace).some((e) => e.cat === 'upload')).toBe(false);

    for (const [args, message] of [
      [['trace', '7'], /trace: no run 7 \(runs 1-2 are recorded\)/],
      [['trace', 'x'], /trace: 'x' is not a run id/],
      [['trace', '1', '-o', path.join(ws, 'no/such/dir/t.json')], /trace: -o: cannot write '.*t\.json': ENOENT/],
      [['build', '--dry-run', '--profile', 'p.json'], /--profile records a real build/],
    ] as [string[], RegExp][]) {
      const bad = await kiln(ws, args, env);
      expect(bad.exitCode, args.join(' ')).toBe(2);
      expect(bad.stderr).toMatch(message);
    }
  });
});
