import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FORK_JOIN, forkJoinWorkspace } from './fork-join.js';
import { kiln, tempDir, writeFiles } from './kiln.js';

/** Data rows of a table printed by kiln history, split on runs of 2+ spaces. */
function tableRows(text: string): string[][] {
  const lines = text.trimEnd().split('\n');
  const rule = lines.findIndex((l) => /^-+( +-+)*$/.test(l));
  return lines.slice(rule + 1).map((l) => l.split(/ {2,}/));
}

describe('kiln history', () => {
  const ws = forkJoinWorkspace();
  const env = { KILN_CACHE_DIR: tempDir('kiln-cache-') };

  beforeAll(async () => {
    // Run 1: cold; run 2: left changed; run 3: a no-op.
    for (const change of ['L1\n', 'L2\n', 'L2\n']) {
      fs.writeFileSync(path.join(ws, 'l.txt'), change);
      const r = await kiln(ws, ['build', '-j', '2', 'join'], env);
      expect(r.exitCode, r.stderr).toBe(0);
    }
  });

  it('says so when nothing was built yet, and exits 0', async () => {
    const empty = tempDir();
    writeFiles(empty, { 'kiln.yaml': FORK_JOIN });
    const r = await kiln(empty, ['history'], env);
    expect(r).toMatchObject({ exitCode: 0, stdout: 'kiln: no builds recorded in this checkout yet' });
    const json = await kiln(empty, ['history', '--json'], env);
    expect(JSON.parse(json.stdout)).toEqual({ version: 1, runs: [] });
    expect(fs.existsSync(path.join(empty, '.kiln'))).toBe(false); // reading history creates no state
  });

  it('lists runs newest first with counts, hit rate and exit code', async () => {
    const r = await kiln(ws, ['history'], env);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^run +when +command +duration +built +cached +failed +skipped +hits +exit +upstream$/);
    const rows = tableRows(r.stdout);
    expect(rows.map((c) => c[0])).toEqual(['3', '2', '1']);
    // [run, when, command, duration, built, cached, failed, skipped, hits, exit]
    expect(rows.map((c) => c.slice(4, 10))).toEqual([
      ['0', '3', '0', '0', '100%', '0'],
      ['2', '1', '0', '0', '33%', '0'], // left and join rebuilt, right up to date
      ['3', '0', '0', '0', '0%', '0'],
    ]);
    for (const c of rows) {
      expect(c[1]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
      expect(c[2]).toBe('build -j 2 join');
    }

    const one = await kiln(ws, ['history', '--last', '1'], env);
    expect(tableRows(one.stdout).map((c) => c[0])).toEqual(['3']);
  });

  it('--json lists runs in a stable shape', async () => {
    const r = await kiln(ws, ['history', '--json', '--last', '2'], env);
    const parsed = JSON.parse(r.stdout) as { version: number; runs: Record<string, unknown>[] };
    expect(parsed.version).toBe(1);
    expect(parsed.runs).toHaveLength(2);
    expect(parsed.runs[1]).toMatchObject({
      id: 2, command: 'build', args: ['build', '-j', '2', 'join'], exitCode: 0, workers: 2, upstream: [],
      built: 2, cached: 1, failed: 0, skipped: 0, hitRate: 1 / 3,
    });
    expect(new Date(parsed.runs[1]!.startedAt as string).toISOString()).toBe(parsed.runs[1]!.startedAt);
    expect(parsed.runs[1]!.durationMs).toBeGreaterThan(200);
  });

  it('shows one run: its nodes in the order they started, with lanes, durations and bytes', async () => {
    for (const arg of ['1', 'last']) {
      const r = await kiln(ws, ['history', arg], env);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout.split('\n')[0]).toBe(`run ${arg === 'last' ? 3 : 1}: kiln build -j 2 join`);
    }
    const cold = tableRows((await kiln(ws, ['history', '1'], env)).stdout);
    // [node, status, cache, lane, start, duration, bytes]
    expect(cold.map((c) => c[0])).toHaveLength(3);
    expect(cold[2]![0]).toBe('join'); // it waited for both others
    expect(new Set(cold.slice(0, 2).map((c) => c[3]))).toEqual(new Set(['0', '1']));
    expect(cold.find((c) => c[0] === 'right')!.slice(1, 3)).toEqual(['built', '-']);
    expect(cold.find((c) => c[0] === 'right')![6]).toBe('4.9 KiB');

    const json = JSON.parse((await kiln(ws, ['history', '2', '--json'], env)).stdout) as {
      run: { id: number }; nodes: { node: string; status: string; cache: string | null; spans: unknown[] }[];
    };
    expect(json.run.id).toBe(2);
    expect(json.nodes.map((n) => [n.node, n.status, n.cache])).toContainEqual(['right', 'cached', 'local']);
    expect(json.nodes.find((n) => n.node === 'left')!.spans.length).toBeGreaterThan(0);
  });

  it('--node shows one node across runs', async () => {
    const r = await kiln(ws, ['history', '--node', 'left'], env);
    expect(r.exitCode).toBe(0);
    const rows = tableRows(r.stdout);
    // [run, when, status, cache, duration, bytes, lane, key]
    expect(rows.map((c) => [c[0], c[2], c[3]])).toEqual([['3', 'cached', 'local'], ['2', 'built', '-'], ['1', 'built', '-']]);
    expect(rows[0]![7]).toBe(rows[1]![7]); // the same key: the no-op found it up to date
    expect(rows[1]![7]).not.toBe(rows[2]![7]); // l.txt changed between runs 1 and 2
    expect(rows[0]![7]).toMatch(/^[0-9a-f]{12}$/);

    const json = JSON.parse((await kiln(ws, ['history', '--node', 'left', '--last', '1', '--json'], env)).stdout);
    expect(json).toMatchObject({ version: 1, node: 'left', runs: [{ runId: 3, status: 'cached', cache: 'local', bytes: 0, lane: expect.any(Number) }] });
    expect(json.runs[0].key).toMatch(/^[0-9a-f]{64}$/);
  });

  it('rejects bad arguments with exit 2 and a clear message', async () => {
    const cases: [string[], RegExp][] = [
      [['history', '--node', 'lfet'], /node 'lfet' has no runs in history\n {2}hint: did you mean 'left'\?/],
      [['history', '--node', 'unselected'], /node 'unselected' has no runs in history/],
      [['history', '99'], /no run 99 \(runs 1-3 are recorded\)/],
      [['history', 'abc'], /'abc' is not a run id/],
      [['history', '--last', '0'], /--last expects a positive integer, got '0'/],
      [['history', '--last', 'x'], /--last expects a positive integer/],
      [['history', '1', '--node', 'left'], /--node does not apply to one run/],
      [['history', '1', '2'], /expects at most one run id/],
      [['history', '--bogus'], /history: Unknown option '--bogus'/],
    ];
    for (const [args, message] of cases) {
      const r = await kiln(ws, args, env);
      expect(r.exitCode, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/); // no stack trace
    }
  });
});
