import type Database from 'better-sqlite3';
import { scenarioResult, type BenchResult, type HostFacts, type Rep } from './result.js';
import type { ScenarioKind } from '../buildfile/scenario.js';

interface BenchRow {
  id: number;
  name: string | null;
  startedAt: number;
  durationMs: number;
  kilnVersion: string;
  host: string;
  gitCommit: string | null;
}

interface ResultRow {
  scenario: string;
  kind: ScenarioKind;
  targets: string;
  rep: number;
  runId: number | null;
  wallMs: number;
  built: number;
  cached: number;
}

const BENCH_COLUMNS = `id, name, started_at AS startedAt, duration_ms AS durationMs, kiln_version AS kilnVersion, host, git_commit AS gitCommit`;

/** `kiln bench` results in the checkout's state database (tables: bench_runs, bench_results; see state-db.ts). */
export class BenchRecord {
  constructor(private readonly db: Database.Database) {}

  /** Stores a finished bench; returns its id. */
  add(result: Omit<BenchResult, 'id' | 'name'>): number {
    const insertRep = this.db.prepare(
      `INSERT INTO bench_results (bench_id, scenario, position, kind, targets, rep, run_id, wall_ms, built, cached)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    return this.db.transaction(() => {
      const id = Number(
        this.db
          .prepare('INSERT INTO bench_runs (started_at, duration_ms, kiln_version, host, git_commit) VALUES (?, ?, ?, ?, ?)')
          .run(Date.parse(result.startedAt), result.durationMs, result.kilnVersion, JSON.stringify(result.host), result.gitCommit)
          .lastInsertRowid,
      );
      result.scenarios.forEach((s, position) => {
        for (const r of s.reps) {
          insertRep.run(id, s.name, position, s.kind, JSON.stringify(s.targets), r.rep, r.runId, r.wallMs, r.built, r.cached);
        }
      });
      return id;
    })();
  }

  /**
   * Names a bench. A name names one bench: saving it again moves it to the
   * newer one, as criterion's --save-baseline does. Returns the id it named before, if another.
   */
  setName(id: number, name: string): number | undefined {
    return this.db.transaction(() => {
      const previous = this.db.prepare('SELECT id FROM bench_runs WHERE name = ?').pluck().get(name) as number | undefined;
      this.db.prepare('UPDATE bench_runs SET name = NULL WHERE name = ?').run(name);
      this.db.prepare('UPDATE bench_runs SET name = ? WHERE id = ?').run(name, id);
      return previous !== id ? previous : undefined;
    })();
  }

  /** A bench by id or by name. */
  load(ref: { id: number } | { name: string }): BenchResult | undefined {
    const row = (
      'id' in ref
        ? this.db.prepare(`SELECT ${BENCH_COLUMNS} FROM bench_runs WHERE id = ?`).get(ref.id)
        : this.db.prepare(`SELECT ${BENCH_COLUMNS} FROM bench_runs WHERE name = ?`).get(ref.name)
    ) as BenchRow | undefined;
    return row && this.withResults(row);
  }

  /** The newest benches first. */
  list(limit: number): BenchResult[] {
    const rows = this.db.prepare(`SELECT ${BENCH_COLUMNS} FROM bench_runs ORDER BY id DESC LIMIT ?`).all(limit) as BenchRow[];
    return rows.map((r) => this.withResults(r));
  }

  names(): string[] {
    return this.db.prepare('SELECT name FROM bench_runs WHERE name IS NOT NULL ORDER BY id DESC').pluck().all() as string[];
  }

  private withResults(row: BenchRow): BenchResult {
    const reps = this.db
      .prepare(
        `SELECT r.scenario, r.kind, r.targets, r.rep, runs.id AS runId, r.wall_ms AS wallMs, r.built, r.cached
         FROM bench_results r LEFT JOIN runs ON runs.id = r.run_id
         WHERE r.bench_id = ? ORDER BY r.position, r.rep`,
      )
      .all(row.id) as ResultRow[];
    const byScenario = new Map<string, ResultRow[]>();
    for (const r of reps) byScenario.set(r.scenario, [...(byScenario.get(r.scenario) ?? []), r]);
    return {
      version: 1,
      id: row.id,
      name: row.name,
      startedAt: new Date(row.startedAt).toISOString(),
      durationMs: row.durationMs,
      kilnVersion: row.kilnVersion,
      host: JSON.parse(row.host) as HostFacts,
      gitCommit: row.gitCommit,
      scenarios: [...byScenario].map(([name, rows]) =>
        scenarioResult(
          name,
          rows[0]!.kind,
          JSON.parse(rows[0]!.targets) as string[],
          rows.map((r): Rep => ({ rep: r.rep, runId: r.runId, wallMs: r.wallMs, built: r.built, cached: r.cached })),
        ),
      ),
    };
  }
}
