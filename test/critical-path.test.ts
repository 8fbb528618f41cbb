import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { analyzeRun, type TimedNode } from '../engine/graph/critical-path.js';
import { listRuns, loadNodeRuns } from '../engine/state/run-record.js';
import { kiln, tempDir, writeFiles } from './kiln.js';
import { GRAPH } from './report-graph.js';

const n = (node: string, durationMs: number, deps: string[] = []): TimedNode => ({ node, durationMs, deps });

describe('critical path and lower bound', () => {
  it('diamond: the longer branch, bounded by the chain', () => {
    const b = analyzeRun([n('a', 10), n('b', 30, ['a']), n('c', 20, ['a']), n('d', 5, ['b', 'c'])], 2, 60);
    expect(b.path).toEqual([
      { node: 'a', durationMs: 10 },
      { node: 'b', durationMs: 30 },
      { node: 'd', durationMs: 5 },
    ]);
    expect(b).toMatchObject({ criticalPathMs: 45, totalWorkMs: 65, workers: 2, lowerBoundMs: 45, runMs: 60, aboveBoundMs: 15 });
    expect(b.ratio).toBeCloseTo(60 / 45, 12);
  });

  it('chain: the whole chain, whatever the workers', () => {
    const b = analyzeRun([n('d', 40, ['c']), n('c', 30, ['b']), n('b', 20, ['a']), n('a', 10)], 4, 120);
    expect(b.path.map((p) => p.node)).toEqual(['a', 'b', 'c', 'd']);
    expect(b).toMatchObject({ criticalPathMs: 100, totalWorkMs: 100, lowerBoundMs: 100, aboveBoundMs: 20, ratio: 1.2 });
  });

  it('wide fan: total work over the workers bounds it, not the path', () => {
    const leaves = Array.from({ length: 8 }, (_, i) => n(`leaf${i + 1}`, (i + 1) * 10, ['root']));
    const b = analyzeRun([n('root', 5), ...leaves], 2, 200);
    expect(b.path.map((p) => p.node)).toEqual(['root', 'leaf8']);
    expect(b).toMatchObject({ criticalPathMs: 85, totalWorkMs: 365, lowerBoundMs: 182.5, aboveBoundMs: 17.5 });
    expect(b.ratio).toBeCloseTo(200 / 182.5, 12);
  });

  it('breaks ties by the earlier-listed dependency, ignores deps outside the run, sums to 0.1 ms', () => {
    const tie = analyzeRun([n('a', 1), n('b', 1), n('top', 1, ['b', 'a', 'not-selected'])], 1, 3);
    expect(tie.path.map((p) => p.node)).toEqual(['b', 'top']);
    expect(analyzeRun([n('x', 0.1), n('y', 0.2, ['x'])], 1, 1).criticalPathMs).toBe(0.3);
  });

  it('has no bound for an empty run, and walks a 20,000-node chain without recursion', () => {
    expect(analyzeRun([], 2, 5)).toMatchObject({ path: [], criticalPathMs: 0, lowerBoundMs: 0, aboveBoundMs: 5, ratio: null });
    const chain = Array.from({ length: 20_000 }, (_, i) => n(`n${i}`, 1, i > 0 ? [`n${i - 1}`] : []));
    const b = analyzeRun(chain.reverse(), 8, 30_000);
    expect(b.path).toHaveLength(20_000);
    expect(b.criticalPathMs).toBe(20_000);
  });
});

describe('kiln report (text)', () => {
  it('reports the critical path, lower bound and slowest nodes of a real run', async () => {
    const ws = tempDir();
    writeFiles(ws, { 'kiln.yaml': GRAPH, 'slow.txt': 'one\n' });
    const env = { KILN_CACHE_DIR: tempDir('kiln-cache-') };
    expect((await kiln(ws, ['build', '-j', '2'], env)).exitCode).toBe(0);
    writeFiles(ws, { 'slow.txt': 'two\n' });
    expect((await kiln(ws, ['build', '-j', '2'], env)).exitCode).toBe(0);

    const db = new Database(path.join(ws, '.kiln/state.db'), { readonly: true });
    const [second, first] = listRuns(db, 2);
    const rows = loadNodeRuns(db, first!.id);
    db.close();
    const bound = analyzeRun(rows, first!.workers, first!.durationMs);
    expect(bound.path.map((p) => p.node)).toEqual(['slow', 'mid', 'join']);
    const ms = Object.fromEntries(rows.map((r) => [r.node, r.durationMs]));
    expect(bound.criticalPathMs).toBeCloseTo(ms.slow! + ms.mid! + ms.join!, 6);
    expect(bound.criticalPathMs).toBeGreaterThanOrEqual(500);
    expect(bound.lowerBoundMs).toBe(bound.criticalPathMs); // 2 workers: the chain is longer than half the work
    // No schedule beats the bound (1 ms of slack for the 0.1 ms rounding of each figure).
    expect(first!.durationMs).toBeGreaterThanOrEqual(bound.lowerBoundMs - 1);

    const latest = await kiln(ws, ['report'], env);
    expect(latest.exitCode, latest.stderr).toBe(0);
    expect(latest.stdout).toContain(`run ${second!.id} (build)`);
    // Only slow.txt changed: fast is the one cache hit of four.
    expect(latest.stdout).toContain('cache hit ratio 25% (1 of 4)');

    const report = await kiln(ws, ['report', String(first!.id)], env);
    expect(report.exitCode, report.stderr).toBe(0);
    const out = report.stdout;
    expect(out).toContain(`run ${first!.id} (build)`);
    expect(out).toContain('on 2 workers, exit 0');
    expect(out).toContain('cache hit ratio 0% (0 of 4)');
    expect(out).toMatch(/critical path: [\d.]+ (s|ms) over 3 nodes\n +[\d.]+ (s|ms) {2}slow\n +[\d.]+ (s|ms) {2}mid\n +[\d.]+ (s|ms) {2}join\n/);
    expect(out).toMatch(/fastest possible on 2 workers: [\d.]+ (s|ms) \(the critical path, or the total work shared by the workers, whichever is longer\)\n/);
    expect(out).toMatch(/this run: [\d.]+ (s|ms), \d+% slower than the fastest possible \(\+[\d.]+ (s|ms)\)/);
    const slowest = out.slice(out.indexOf('slowest nodes:')).trim().split('\n').slice(1);
    expect(slowest.map((l) => l.trim().split(/\s+/).find((w) => ['slow', 'mid', 'fast', 'join'].includes(w)))).toEqual(
      [...rows].sort((a, b) => b.durationMs - a.durationMs).map((r) => r.node),
    );
    // Under load even a trivial node can be the slowest: the mark follows the recorded figures.
    const top = [...rows].sort((a, b) => b.durationMs - a.durationMs)[0]!.node;
    const onPath = bound.path.some((p) => p.node === top);
    expect(slowest[0]).toMatch(new RegExp(`${top}${onPath ? ' {2}\\(critical path\\)' : ''}$`));
  });

  it('names a bad run id, a bad --runs and an empty history as usage errors', async () => {
    const ws = tempDir();
    writeFiles(ws, { 'kiln.yaml': GRAPH, 'slow.txt': 'one\n' });
    const empty = await kiln(ws, ['report']);
    expect(empty).toMatchObject({ exitCode: 2, stdout: '' });
    expect(empty.stderr).toBe('kiln: report: no run recorded in this workspace yet\n  hint: run kiln build first');
    expect((await kiln(ws, ['build', 'fast'], { KILN_CACHE_DIR: tempDir('kiln-cache-') })).exitCode).toBe(0);
    const unknown = await kiln(ws, ['report', '7']);
    expect(unknown).toMatchObject({ exitCode: 2 });
    expect(unknown.stderr).toBe("kiln: report: no run 7 in this workspace's history\n  hint: run ids go up to 1");
    const bad = await kiln(ws, ['report', 'latest']);
    expect(bad.stderr).toBe("kiln: report: RUN must be a run id (a positive integer), got 'latest'");
    expect((await kiln(ws, ['report', '--runs', '0'])).stderr).toContain("--runs expects a positive integer, got '0'");
    const unwritable = await kiln(ws, ['report', '-o', path.join(ws, 'no-such-dir', 'r.html')]);
    expect(unwritable).toMatchObject({ exitCode: 2, stderr: `kiln: report: cannot write ${path.join(ws, 'no-such-dir', 'r.html')}: ENOENT` });
  });
});
