import type { SchedulePlan } from '../graph/schedule.js';
import type { NodeSummary, RunSummary } from './summary.js';

/** What a build tells the terminal renderer; the executor knows nothing about terminals. */
export type BuildEvent =
  /** `plan` carries each node's recorded duration, for an ETA; `workers` is -j. */
  | { type: 'start'; total: number; workers: number; plan: SchedulePlan }
  | { type: 'node-start'; id: string }
  | { type: 'node-done'; node: NodeSummary; log: Buffer | null; replayed: boolean }
  | { type: 'warning'; message: string }
  | { type: 'end'; summary: RunSummary };

export type Reporter = (event: BuildEvent) => void;
