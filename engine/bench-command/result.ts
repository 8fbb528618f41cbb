import os from 'node:os';
import { summarize } from './stats.js';
import type { ScenarioKind } from '../buildfile/scenario.js';

/** One timed `kiln build` of a scenario. */
export interface Rep {
  /** 1-based. */
  rep: number;
  /** The build's row in run history; null when history no longer has it. */
  runId: number | null;
  /** Spawn to exit of the whole `kiln build` process, startup included. */
  wallMs: number;
  built: number;
  cached: number;
}

export interface ScenarioResult {
  name: string;
  kind: ScenarioKind;
  targets: string[];
  n: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  reps: Rep[];
}

/** The machine a bench ran on: results from different machines compare poorly. */
export interface HostFacts {
  cores: number;
  cpuModel: string;
  platform: string;
  node: string;
}

/** `kiln bench --json`, format version 1: also what `--compare FILE` reads as a baseline. */
export interface BenchResult {
  version: 1;
  /** The bench's id in this checkout's history (null when read from a file written elsewhere). */
  id: number | null;
  name: string | null;
  startedAt: string;
  durationMs: number;
  kilnVersion: string;
  host: HostFacts;
  /** HEAD of the workspace's git repository, if it is in one. */
  gitCommit: string | null;
  scenarios: ScenarioResult[];
}

export function scenarioResult(name: string, kind: ScenarioKind, targets: string[], reps: Rep[]): ScenarioResult {
  const s = summarize(reps.map((r) => r.wallMs));
  const round = (ms: number) => Math.round(ms * 10) / 10;
  return { name, kind, targets, n: reps.length, medianMs: round(s.median), minMs: round(s.min), maxMs: round(s.max), reps };
}

export function hostFacts(): HostFacts {
  return { cores: os.availableParallelism(), cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown', platform: `${process.platform}-${process.arch}`, node: process.version };
}
