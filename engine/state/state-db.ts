import path from 'node:path';
import type Database from 'better-sqlite3';
import { openShared } from './sqlite.js';
import { ensureStateDir } from './state-dir.js';


const SCHEMA_VERSION = 6;

/**
 * Opens (creating if needed) the workspace state database (sqlite.ts: WAL
 * so that a reader never blocks a build, busy_timeout so concurrent kiln
 * processes in one checkout wait instead of failing).
 */
export function openStateDb(root: string): Database.Database {
  const dir = ensureStateDir(root);
  return openShared(path.join(dir, 'state.db'), (db) => {
    // Checked before taking the write lock: most opens find the schema current (a build may hold the lock).
    if ((db.pragma('user_version', { simple: true }) as number) < SCHEMA_VERSION) db.transaction(() => migrate(db)).immediate();
  });
}

/** Brings the schema to SCHEMA_VERSION, inside the caller's write transaction (read again there: another process may have done it). */
function migrate(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version < 1) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS stat (
        path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime REAL NOT NULL,
        ino INTEGER NOT NULL, ctime REAL NOT NULL, digest TEXT NOT NULL, recorded REAL NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS node_state (
        node TEXT PRIMARY KEY, key TEXT NOT NULL, ingredients TEXT NOT NULL,
        output_digest TEXT NOT NULL, fingerprint TEXT NOT NULL, log TEXT,
        duration_ms REAL NOT NULL, updated_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS runs (
        id INTEGER PRIMARY KEY, command TEXT NOT NULL, args TEXT NOT NULL,
        started_at INTEGER NOT NULL, duration_ms REAL NOT NULL, exit_code INTEGER NOT NULL,
        built INTEGER NOT NULL, cached INTEGER NOT NULL, failed INTEGER NOT NULL, skipped INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS node_runs (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, node TEXT NOT NULL,
        key TEXT, status TEXT NOT NULL, cache TEXT, duration_ms REAL NOT NULL,
        output_digest TEXT, error TEXT, PRIMARY KEY (run_id, node)
      ) WITHOUT ROWID;
    `);
  }
  if (version < 2) {
    // Version 2: where and when each node ran (lanes, spans, bytes, deps) and what a run was about.
    db.exec(`
      ALTER TABLE runs ADD COLUMN workers INTEGER NOT NULL DEFAULT 1;
      ALTER TABLE runs ADD COLUMN upstream TEXT NOT NULL DEFAULT '[]';
      ALTER TABLE node_runs ADD COLUMN rule TEXT NOT NULL DEFAULT '';
      ALTER TABLE node_runs ADD COLUMN start_ms REAL;
      ALTER TABLE node_runs ADD COLUMN lane INTEGER;
      ALTER TABLE node_runs ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE node_runs ADD COLUMN deps TEXT NOT NULL DEFAULT '[]';
      ALTER TABLE node_runs ADD COLUMN spans TEXT;
    `);
  }
  if (version < 3) {
    // Version 3: input stamps, so an unchanged node is known up to date without hashing (see up-to-date.ts).
    db.exec(`
      ALTER TABLE node_state ADD COLUMN input_stamp TEXT;
      ALTER TABLE node_state ADD COLUMN context TEXT;
    `);
  }
  if (version < 4) {
    // Version 4: \`kiln bench\` results, one row per timed build, each linked to its run.
    db.exec(`
      CREATE TABLE IF NOT EXISTS bench_runs (
        id INTEGER PRIMARY KEY, name TEXT UNIQUE, started_at INTEGER NOT NULL, duration_ms REAL NOT NULL,
        kiln_version TEXT NOT NULL, host TEXT NOT NULL, git_commit TEXT
      );
      CREATE TABLE IF NOT EXISTS bench_results (
        bench_id INTEGER NOT NULL REFERENCES bench_runs(id) ON DELETE CASCADE, scenario TEXT NOT NULL,
        position INTEGER NOT NULL, kind TEXT NOT NULL, targets TEXT NOT NULL, rep INTEGER NOT NULL,
        run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL, wall_ms REAL NOT NULL,
        built INTEGER NOT NULL, cached INTEGER NOT NULL, PRIMARY KEY (bench_id, scenario, rep)
      ) WITHOUT ROWID;
    `);
  }
  if (version < 5) {
    // Version 5: the paths a node created without declaring them (write-scan.ts), never its inputs.
    db.exec('ALTER TABLE node_state ADD COLUMN written TEXT;');
  }
  if (version < 6) {
    // Version 6: in a build several agents share, whose run made each node's result.
    db.exec('ALTER TABLE node_runs ADD COLUMN agent TEXT;');
  }
  if (version < SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
}
