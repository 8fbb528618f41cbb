import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { loadWorkspace } from '../engine/buildfile/load.js';
import { ChaseRecord } from '../engine/chase/record.js';
import { formatDiagnostic } from '../engine/diagnostic.js';
import { DEFAULT_KEEP_RUNS } from '../engine/state/history.js';
import { listRuns } from '../engine/state/run-record.js';
import { kiln, tempDir, writeFiles } from './kiln.js';

const NODES = `nodes:
  a:
    rule: run
    inputs: [a.txt]
    outputs: [out/a]
    cmd: mkdir -p out && cp a.txt out/a
  b:
    rule: run
    deps: [a]
    outputs: [out/b]
    cmd: cp out/a out/b
`;

function load(files: Record<string, string>) {
  const dir = tempDir();
  writeFiles(dir, files);
  return loadWorkspace(path.join(dir, 'kiln.yaml'));
}

function diagnostics(files: Record<string, string>): string[] {
  const loaded = load(files);
  return loaded.ok ? [] : loaded.diagnostics.map(formatDiagnostic);
}

describe('history: in kiln.yaml', () => {
  it('reads keepRuns, and defaults when the block is absent', () => {
    const set = load({ 'kiln.yaml': `history:\n  keepRuns: 50\n${NODES}` });
    expect(set.ok && set.value.history).toMatchObject({ keepRuns: 50, pos: { file: 'kiln.yaml', line: 1, column: 1 } });
    const absent = load({ 'kiln.yaml': NODES });
    expect(absent.ok && absent.value.history).toBeUndefined();
    expect(DEFAULT_KEEP_RUNS).toBe(200);
  });

  it('reports bad values at their position', () => {
    expect(diagnostics({ 'kiln.yaml': 'history:\n  keepRuns: 0\n' })).toEqual([
      'kiln.yaml:2:13: expected a number of runs (a positive integer)\n  hint: older runs and their node rows are deleted after each build',
    ]);
    expect(diagnostics({ 'kiln.yaml': 'history:\n  keepRuns: lots\n' })[0]).toMatch(/^kiln\.yaml:2:13: expected a number of runs/);
    expect(diagnostics({ 'kiln.yaml': 'history:\n  keepRuns: 2.5\n' })[0]).toMatch(/^kiln\.yaml:2:13: expected a number of runs/);
    expect(diagnostics({ 'kiln.yaml': 'history:\n  keepRun: 10\n' })).toEqual([
      "kiln.yaml:2:3: unknown key 'keepRun' in history\n  hint: did you mean 'keepRuns'?",
    ]);
    expect(diagnostics({ 'kiln.yaml': 'history: 10\n' })).toEqual(['kiln.yaml:1:10: expected a mapping\n  hint: e.g. `history: {keepRuns: 1000}`']);
    expect(diagnostics({ 'kiln.yaml': 'include: [sub/kiln.yaml]\n', 'sub/kiln.yaml': 'history: {keepRuns: 5}\n' })).toEqual([
      'sub/kiln.yaml:1:1: history can only be configured in the root build file\n  hint: history is kept per checkout',
    ]);
  });

  it('is a usage error (exit 2) for kiln build', async () => {
    const ws = tempDir();
    writeFiles(ws, { 'kiln.yaml': `history:\n  keepRuns: -3\n${NODES}`, 'a.txt': 'a' });
    const r = await kiln(ws, ['build']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('kiln.yaml:2:13: expected a number of runs (a positive integer)');
  });
});

describe('history retention', () => {
  it('keeps the newest keepRuns runs; chase rows of pruned runs stay, unlinked', async () => {
    const ws = tempDir();
    writeFiles(ws, { 'kiln.yaml': `history: {keepRuns: 2}\n${NODES}`, 'a.txt': 'a1' });
    const env = { KILN_CACHE_DIR: tempDir('kiln-cache-') };
    expect((await kiln(ws, ['build'], env)).exitCode).toBe(0);
    const dbFile = path.join(ws, '.kiln/state.db');

    // What `kiln chase` records: a row linked to the build's run.
    let db = new Database(dbFile);
    new ChaseRecord(db).add({
      project: 'up', commit: 'c'.repeat(40), subject: 's', startedAt: new Date().toISOString(), durationMs: 1,
      status: 'ok', built: 2, cached: 0, failed: 0, details: ['rebuilt: a, b'], runId: 1,
    });
    db.close();

    for (const content of ['a2', 'a3', 'a3']) {
      writeFiles(ws, { 'a.txt': content });
      const r = await kiln(ws, ['build'], env);
      expect(r.exitCode, r.stderr).toBe(0);
    }

    db = new Database(dbFile, { readonly: true });
    try {
      expect(listRuns(db, 10).map((r) => r.id)).toEqual([4, 3]);
      const nodeRunIds = db.prepare('SELECT DISTINCT run_id FROM node_runs ORDER BY run_id').pluck().all();
      expect(nodeRunIds).toEqual([3, 4]);
      expect(db.prepare('SELECT project, run_id AS runId, details FROM chase').all()).toEqual([
        { project: 'up', runId: null, details: '["rebuilt: a, b"]' },
      ]);
    } finally {
      db.close();
    }

    // The command reads what is left, and points at retention for a pruned run.
    const pruned = await kiln(ws, ['history', '1'], env);
    expect(pruned.exitCode).toBe(2);
    expect(pruned.stderr).toContain('no run 1 (runs 3-4 are recorded)\n  hint: older runs were pruned (history.keepRuns in kiln.yaml)');
    const nodeRows = JSON.parse((await kiln(ws, ['history', '--node', 'a', '--json'], env)).stdout) as { runs: { runId: number }[] };
    expect(nodeRows.runs.map((r) => r.runId)).toEqual([4, 3]);
  });
});
