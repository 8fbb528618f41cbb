import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { listRuns, loadNodeRuns, loadRun, type NodeRunRecord } from '../engine/state/run-record.js';
import { builtThenRestored } from './fork-join.js';

function byNode(rows: NodeRunRecord[]): Record<string, NodeRunRecord> {
  return Object.fromEntries(rows.map((r) => [r.node, r]));
}

describe('run history records', () => {
  it('records lanes, spans, bytes and deps of every node run, and the run itself', async () => {
    const { ws } = await builtThenRestored();

    const db = new Database(path.join(ws, '.kiln/state.db'), { readonly: true });
    try {
      const runs = listRuns(db, 10);
      expect(runs.map((r) => r.command)).toEqual(['build', 'build']);
      const [restored, cold] = runs as [NonNullable<(typeof runs)[0]>, NonNullable<(typeof runs)[0]>];
      expect(cold).toMatchObject({ workers: 2, built: 3, cached: 0, exitCode: 0, args: ['build', '-j', '2', 'join'], upstream: [] });
      expect(loadRun(db, cold.id)).toEqual(cold);

      const first = byNode(loadNodeRuns(db, cold.id));
      expect(Object.keys(first).sort()).toEqual(['join', 'left', 'right']); // the unselected node has no row
      const { left, right, join } = first as Record<'left' | 'right' | 'join', NodeRunRecord>;
      expect(new Set([left.lane, right.lane])).toEqual(new Set([0, 1]));
      expect(join.deps).toEqual(['left', 'right']);
      expect(join.rule).toBe('run');
      // The join starts only after both of its dependencies ended.
      for (const dep of [left, right]) expect(join.startMs!).toBeGreaterThanOrEqual(dep.startMs! + dep.durationMs - 1);
      expect(right.spans.map((s) => s.kind)).toEqual(['run', 'store']);
      expect(right.spans[0]!.durationMs).toBeGreaterThanOrEqual(250);
      expect(right.bytes).toBe(5000);

      const second = byNode(loadNodeRuns(db, restored.id));
      expect(restored).toMatchObject({ built: 0, cached: 3 });
      expect(second.right!.cache).toBe('local');
      expect(second.right!.spans.map((s) => s.kind)).toEqual(['restore']);
      expect(second.right!.bytes).toBe(5000);
    } finally {
      db.close();
    }
  });
});
