import type Database from 'better-sqlite3';
import { ChaseRecord, type ChaseRow } from '../chase/record.js';
import { analyzeRun, type RunBound } from '../graph/critical-path.js';
import { listRuns, loadNodeRuns, type NodeRunRecord, type RunRecord } from '../state/run-record.js';

/** Everything `kiln report` shows, in text or HTML. */
export interface ReportModel {
  run: RunRecord;
  /** The run's node rows, in the order they started. */
  nodes: NodeRunRecord[];
  bound: RunBound;
  critical: Set<string>;
  hits: HitRate;
  /** The slowest nodes of the run, slowest first. */
  slowest: NodeRunRecord[];
  /** The last runs of the same command, oldest first: the history chart. */
  history: RunRecord[];
  /** Every `kiln chase` row of the workspace, in chase order; empty when it never chased. */
  chase: ChaseRow[];
}

/** Cache hits among the nodes that reached a verdict (skipped nodes neither hit nor missed). */
export interface HitRate {
  cached: number;
  evaluated: number;
  /** cached / evaluated; null when no node was evaluated. */
  ratio: number | null;
}

export const SLOWEST = 10;

export function hitRate(run: Pick<RunRecord, 'built' | 'cached' | 'failed'>): HitRate {
  const evaluated = run.built + run.cached + run.failed;
  return { cached: run.cached, evaluated, ratio: evaluated > 0 ? run.cached / evaluated : null };
}

export function reportModel(db: Database.Database, run: RunRecord, historyRuns: number): ReportModel {
  const nodes = loadNodeRuns(db, run.id);
  const bound = analyzeRun(nodes, run.workers, run.durationMs);
  const slowest = nodes
    .filter((n) => n.status !== 'skipped')
    .sort((a, b) => b.durationMs - a.durationMs || a.node.localeCompare(b.node))
    .slice(0, SLOWEST);
  return {
    run,
    nodes,
    bound,
    critical: new Set(bound.path.map((p) => p.node)),
    hits: hitRate(run),
    slowest,
    // Like with like: a chase run is compared with other chase runs, a build with builds.
    history: listRuns(db, historyRuns, run.command).reverse(),
    chase: new ChaseRecord(db).all(),
  };
}
