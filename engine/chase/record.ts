import type Database from 'better-sqlite3';
import type { RunSummary } from '../pipeline/summary.js';

/** One (project, upstream commit) built by `kiln chase`: a DLRN-style row. */
export interface ChaseRow {
  project: string;
  commit: string;
  subject: string;
  startedAt: string;
  durationMs: number;
  status: 'ok' | 'failed';
  built: number;
  cached: number;
  failed: number;
  /** Failed nodes and why, and rule notes (patches applied or already upstream, test counts). */
  details: string[];
  /** The build's row in `runs`: its `node_runs` hold every node's status, cache source and duration. */
  runId: number | null;
}

/** Chase results in the checkout's state database, one row per (project, commit, attempt). */
export class ChaseRecord {
  constructor(private readonly db: Database.Database) {
    db.exec(`CREATE TABLE IF NOT EXISTS chase (
      id INTEGER PRIMARY KEY, project TEXT NOT NULL, commit_sha TEXT NOT NULL, subject TEXT NOT NULL,
      started_at TEXT NOT NULL, duration_ms REAL NOT NULL, status TEXT NOT NULL,
      built INTEGER NOT NULL, cached INTEGER NOT NULL, failed INTEGER NOT NULL, details TEXT NOT NULL,
      run_id INTEGER REFERENCES runs(id)
    )`);
  }

  /** The newest commit chased for a project, whatever its outcome. */
  last(project: string): string | undefined {
    return this.newest(project)?.commit;
  }

  /** The newest commit chased for a project, with its subject and outcome. */
  newest(project: string): Pick<ChaseRow, 'commit' | 'subject' | 'status'> | undefined {
    return this.db.prepare('SELECT commit_sha AS "commit", subject, status FROM chase WHERE project = ? ORDER BY id DESC LIMIT 1').get(project) as
      | Pick<ChaseRow, 'commit' | 'subject' | 'status'>
      | undefined;
  }

  /** The newest commit of a project whose build succeeded: where other projects' chases pin it. */
  lastOk(project: string): string | undefined {
    return this.db
      .prepare("SELECT commit_sha FROM chase WHERE project = ? AND status = 'ok' ORDER BY id DESC LIMIT 1")
      .pluck()
      .get(project) as string | undefined;
  }

  /** Every row in chase order (oldest first): the DLRN-like table of `kiln report`. */
  all(): ChaseRow[] {
    const rows = this.db
      .prepare(
        `SELECT project, commit_sha AS "commit", subject, started_at AS startedAt, duration_ms AS durationMs, status,
                built, cached, failed, details, run_id AS runId
         FROM chase ORDER BY id`,
      )
      .all() as (Omit<ChaseRow, 'details'> & { details: string })[];
    return rows.map((r) => ({ ...r, details: JSON.parse(r.details) as string[] }));
  }

  add(row: ChaseRow): void {
    this.db
      .prepare(
        `INSERT INTO chase (project, commit_sha, subject, started_at, duration_ms, status, built, cached, failed, details, run_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(row.project, row.commit, row.subject, row.startedAt, row.durationMs, row.status, row.built, row.cached, row.failed, JSON.stringify(row.details), row.runId);
  }
}

/** A chase row from a build's summary. */
export function chaseRow(project: string, commit: string, subject: string, summary: RunSummary, runId: number | null): ChaseRow {
  const inScope = summary.nodes.filter((n) => n.error !== 'not selected');
  const count = (s: string) => inScope.filter((n) => n.status === s).length;
  const rebuilt = inScope.filter((n) => n.status === 'built').map((n) => n.id);
  const details = [
    ...(rebuilt.length > 0 ? [`rebuilt: ${rebuilt.join(', ')}`] : []),
    ...inScope.filter((n) => n.status === 'failed').map((n) => `${n.id}: ${n.error}`),
    // Notes of the nodes this commit touched (a cached node's notes belong to an earlier row);
    // pinning the chased commit is an override, and saying so on every row is noise.
    ...inScope
      .filter((n) => n.status !== 'cached')
      .flatMap((n) => (n.notes ?? []).filter((note) => !note.startsWith('override:')).map((note) => `${n.id}: ${note}`)),
  ];
  return {
    project,
    commit,
    subject,
    startedAt: summary.startedAt,
    durationMs: summary.durationMs,
    status: count('failed') > 0 ? 'failed' : 'ok',
    built: count('built'),
    cached: count('cached'),
    failed: count('failed'),
    details,
    runId,
  };
}
