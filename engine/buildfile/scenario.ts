import type { SourcePos } from '../diagnostic.js';

/**
 * What a scenario measures:
 * - cold: every selected node runs (empty cache, outputs and node state cleaned, no remote);
 * - noop: nothing changed since a warm-up build;
 * - incremental: given files touched before each build;
 * - remote: every selected node restored from the remote cache (empty local cache, outputs removed).
 */
export const SCENARIO_KINDS = ['cold', 'noop', 'incremental', 'remote'] as const;
export type ScenarioKind = (typeof SCENARIO_KINDS)[number];

export const isScenarioKind = (s: string): s is ScenarioKind => (SCENARIO_KINDS as readonly string[]).includes(s);

/** A value and where it was written (a build file position, absent for command-line values). */
export interface Located<T> {
  value: T;
  pos?: SourcePos;
}

/** One scenario, ready to run. */
export interface Scenario {
  name: string;
  kind: ScenarioKind;
  /** Target patterns, as for `kiln build`; empty: every node. */
  targets: Located<string>[];
  /** incremental: workspace-relative files to touch before each timed build. */
  touch: Located<string>[];
  /** Timed repetitions. */
  runs: number;
  /** Where the scenario is declared, when in kiln.yaml. */
  pos?: SourcePos;
}

export const DEFAULT_RUNS = 5;
/** --compare: a median more than this much above the baseline's is a regression. */
export const DEFAULT_THRESHOLD_PCT = 10;
/** --compare: a difference of medians below this is noise (process start jitter), whatever the ratio. */
export const DEFAULT_NOISE_MS = 20;

/** `10%`, `2.5%`: a threshold in percent, or undefined when `raw` is not one. */
export function parsePercent(raw: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*%$/.exec(raw.trim());
  return m ? Number(m[1]) : undefined;
}
