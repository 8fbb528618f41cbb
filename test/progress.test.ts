import { afterEach, describe, expect, it, vi } from 'vitest';
import { Eta } from '../engine/progress/eta.js';
import { createProgress, type ProgressOut } from '../engine/progress/progress.js';
import type { BuildEvent } from '../engine/pipeline/events.js';
import type { SchedulePlan } from '../engine/graph/schedule.js';
import type { NodeSummary, RunSummary } from '../engine/pipeline/summary.js';
import { kiln, tempDir, writeFiles } from './kiln.js';

/** A terminal or pipe that keeps what was written. */
class FakeOut implements ProgressOut {
  text = '';
  constructor(readonly columns?: number) {}
  write(s: string): boolean {
    this.text += s;
    return true;
  }
  /** What a terminal shows: each \r\x1b[2K wipes the current line. */
  get screen(): string {
    return this.text
      .split('\n')
      .map((line) => line.split('\r\x1b[2K').at(-1))
      .join('\n');
  }
}

// a and b are independent; c needs both; d needs c and was never built here.
const DEPS: Record<string, string[]> = { a: [], b: [], c: ['a', 'b'], d: ['c'] };
const RECORDED: Record<string, number> = { a: 1000, b: 2000, c: 500 };

function plan(recorded: Record<string, number> = RECORDED): SchedulePlan {
  return { nodes: Object.keys(DEPS), depsOf: (id) => DEPS[id]!, duration: (id) => recorded[id] };
}

function node(id: string, status: NodeSummary['status'], durationMs: number, extra: Partial<NodeSummary> = {}): NodeSummary {
  return { id, rule: 'run', key: null, status, cache: status === 'cached' ? 'local' : null, durationMs, outputDigest: null, error: null, ...extra };
}

const done = (n: NodeSummary): BuildEvent => ({ type: 'node-done', node: n, log: null, replayed: false });
const end = (nodes: NodeSummary[]): BuildEvent => ({
  type: 'end',
  summary: { version: 1, command: 'build', startedAt: new Date(0).toISOString(), durationMs: 2500, nodes } as RunSummary,
});

afterEach(() => {
  vi.useRealTimers();
});

describe('ETA', () => {
  it('spreads remaining work over the workers, bounded below by the longest chain', () => {
    const eta = Eta.create(plan(), 2)!;
    // Unknown d costs the known mean (3500 / 3). Chain b -> c -> d is the longest.
    const d = 3500 / 3;
    expect(eta.remainingMs([])).toBeCloseTo(2000 + 500 + d);
    // Many workers: the chain still bounds it.
    expect(Eta.create(plan(), 64)!.remainingMs([])).toBeCloseTo(2000 + 500 + d);
    // One worker: all the work, one after the other.
    expect(Eta.create(plan(), 1)!.remainingMs([])).toBeCloseTo(1000 + 2000 + 500 + d);
    // b has run 1.5 s of its 2 s: 0.5 s of it left on the chain.
    eta.settle('a', 1000);
    expect(eta.remainingMs([['b', 1500]])).toBeCloseTo(500 + 500 + d);
    // b has run 5 s, 3 s past its record: assumed to need 3 s more, not to be done.
    expect(eta.remainingMs([['b', 5000]])).toBeCloseTo(3000 + 500 + d);
  });

  it('scales nodes not started by how the settled ones compared with their records', () => {
    const eta = Eta.create(plan(), 1)!;
    eta.settle('a', 10); // restored in 10 ms instead of built in 1 s
    eta.settle('b', 20);
    expect(eta.remainingMs([])).toBeCloseTo((500 + 3500 / 3) * (30 / 3000));
  });

  it('gives no estimate when no node in scope was ever built', () => {
    expect(Eta.create(plan({}), 2)).toBeUndefined();
  });
});

describe('progress, plain mode (CI, pipes)', () => {
  it('prints one line per settled node and an occasional [done/total] line with an ETA and running nodes', () => {
    let t = 0;
    const out = new FakeOut();
    const report = createProgress({ live: false, logs: 'full', out, intervalMs: 1000, clock: () => t });
    report({ type: 'start', total: 4, workers: 2, plan: plan() });
    report({ type: 'node-start', id: 'a' });
    report({ type: 'node-start', id: 'b' });
    t = 1000;
    report(done(node('a', 'built', 1000)));
    t = 1500;
    report(done(node('b', 'built', 1500)));
    report({ type: 'node-start', id: 'c' });
    t = 1900; // less than an interval since the last progress line: none now
    report(done(node('c', 'failed', 600, { error: 'command exited with code 1' })));
    report(done(node('d', 'skipped', 0, { error: "dependency 'c' failed" })));
    report(done(node('x', 'skipped', 0, { error: 'not selected' })));
    report(end([node('a', 'built', 1000), node('b', 'built', 1500), node('c', 'failed', 600, { error: 'boom' })]));
    expect(out.text).toBe(
      [
        '[1/4] built   a (1.00 s)',
        // b ran 1 s of its 2; then c and d: the chain b -> c -> d bounds the ETA (rounded up to whole seconds).
        '[1/4] 25% eta 3s; running: b for 1.0s',
        '[2/4] built   b (1.50 s)',
        '[3/4] failed  c : command exited with code 1',
        "[4/4] skipped d : dependency 'c' failed",
        'kiln: done: 3 nodes, 2 built, 0 cached, 1 failed, 0 skipped in 2.50s',
        'kiln: FAILED c: boom',
        '',
      ].join('\n'),
    );
  });

  it('says how long a silent node has run, from a timer, without an ETA when nothing was recorded', () => {
    vi.useFakeTimers();
    let t = 0;
    const out = new FakeOut();
    const report = createProgress({ live: false, logs: 'full', out, intervalMs: 5000, clock: () => t });
    report({ type: 'start', total: 4, workers: 2, plan: plan({}) });
    report({ type: 'node-start', id: 'a' });
    t = 5000;
    vi.advanceTimersByTime(5000);
    t = 70_000;
    vi.advanceTimersByTime(5000);
    expect(out.text).toBe('[0/4] 0%; running: a for 5.0s\n[0/4] 0%; running: a for 1m10s\n');
    report(end([]));
    vi.advanceTimersByTime(20_000);
    expect(out.text.split('\n').filter((l) => l.startsWith('[0/4]'))).toHaveLength(2); // the timer stopped
  });
});

describe('progress, live mode (a terminal)', () => {
  it('keeps one status line: bar, done/total, ETA, counts, running nodes with elapsed time', () => {
    let t = 0;
    const out = new FakeOut(100);
    const report = createProgress({ live: true, logs: 'full', out, clock: () => t });
    report({ type: 'start', total: 4, workers: 2, plan: plan() });
    expect(out.screen).toBe('[░░░░░░░░░░░░░░░░░░░░] 0/4 0% eta 4s | 0 cached, 0 built, 0 failed');
    report({ type: 'node-start', id: 'a' });
    report({ type: 'node-start', id: 'b' });
    t = 1000;
    report(done(node('a', 'cached', 1000)));
    // A cached node gets no line of its own on a terminal; the status line moves.
    expect(out.screen).toBe('[█████░░░░░░░░░░░░░░░] 1/4 25% eta 3s | 1 cached, 0 built, 0 failed | b 1.0s');
    t = 1500;
    report({ type: 'warning', message: 'remote down' });
    expect(out.screen).toBe(
      'kiln: warning: remote down\n[█████░░░░░░░░░░░░░░░] 1/4 25% eta 3s | 1 cached, 0 built, 0 failed | b 1.5s',
    );
    report(end([node('a', 'cached', 1000)]));
    expect(out.screen).toBe('kiln: warning: remote down\nkiln: done: 1 nodes, 0 built, 1 cached, 0 failed, 0 skipped in 2.50s\n');
  });

  it('redraws at most every 100 ms on events, ticks for elapsed times, fits the width, names three running nodes', () => {
    vi.useFakeTimers();
    let t = 0;
    const flat = { nodes: ['n1', 'n2', 'n3', 'n4', 'n5'], depsOf: () => [], duration: () => undefined };
    const narrow = new FakeOut(60);
    const wide = new FakeOut(200);
    const reports = [narrow, wide].map((out) => createProgress({ live: true, logs: 'none', out, clock: () => t }));
    for (const report of reports) {
      report({ type: 'start', total: 5, workers: 4, plan: flat });
      for (const id of ['n1', 'n2', 'n3', 'n4']) report({ type: 'node-start', id });
    }
    // Four starts in the same instant as the first draw: no redraw yet.
    expect(wide.screen).toBe('[░░░░░░░░░░░░░░░░░░░░] 0/5 0% | 0 cached, 0 built, 0 failed');
    t = 2500;
    vi.advanceTimersByTime(500);
    expect(wide.screen).toBe('[░░░░░░░░░░░░░░░░░░░░] 0/5 0% | 0 cached, 0 built, 0 failed | n1 2.5s, n2 2.5s, n3 2.5s, +1');
    expect(narrow.screen).toBe(wide.screen.slice(0, 59));
    for (const report of reports) report(end([]));
  });
});

describe('progress in a real build (plain mode)', () => {
  it('prints node lines, and progress lines with an ETA once durations are recorded', async () => {
    const ws = tempDir();
    writeFiles(ws, {
      'kiln.yaml': `nodes:
  a: {rule: run, inputs: [x.txt], outputs: [o/a], cmd: "sleep 0.8 && mkdir -p o && cp x.txt o/a"}
  b: {rule: run, inputs: [x.txt], outputs: [o/b], cmd: "sleep 0.8 && mkdir -p o && cp x.txt o/b"}
  c: {rule: run, deps: [a, b], outputs: [o/c], cmd: "sleep 0.8 && cat o/a o/b > o/c"}
`,
      'x.txt': '1',
    });
    const env = { KILN_CACHE_DIR: tempDir('kiln-cache-'), KILN_PROGRESS_INTERVAL: '0.25' };
    const first = await kiln(ws, ['build', '-j', '2'], env);
    expect(first.exitCode, first.stderr).toBe(0);
    // Nothing recorded yet: progress without an ETA.
    expect(first.stdout).toMatch(/^\[0\/3\] 0%; running: [ab] for \d\.\ds, [ab] for \d\.\ds$/m);
    expect(first.stdout).not.toContain('eta');
    // A loaded machine may take over a second: either unit.
    expect(first.stdout).toMatch(/^\[\d\/3\] built {3}a \((\d+ ms|\d+\.\d+ s)\)$/m);

    writeFiles(ws, { 'x.txt': '2' });
    const second = await kiln(ws, ['build', '-j', '2'], env);
    expect(second.exitCode, second.stderr).toBe(0);
    const eta = /^\[0\/3\] 0% eta (\d+)s; running: [ab] for \d\.\ds, [ab] for \d\.\ds$/m.exec(second.stdout);
    expect(eta, second.stdout).not.toBeNull();
    // Recorded: a and b side by side, then c; 1.3 s are left a quarter second in. (0.8 s sleeps: a tick
    // delayed by a loaded machine still lands while a and b run.)
    expect(Number(eta![1])).toBeGreaterThanOrEqual(1);
    expect(Number(eta![1])).toBeLessThanOrEqual(3);
    expect(second.stdout).not.toMatch(/\x1b/); // plain text: no terminal control sequences
    expect(second.stdout.trimEnd().split('\n').at(-1)).toMatch(/^kiln: done: 3 nodes, 3 built, 0 cached, 0 failed, 0 skipped in /);
  });
});
