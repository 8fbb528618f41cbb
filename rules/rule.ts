import type { GenericSchema } from 'valibot';
import type { NodeDecl } from '../engine/buildfile/types.js';

/** What a rule gets to run one node. Everything it may touch is here. */
export interface RuleContext {
  node: NodeDecl;
  /** Absolute workspace root. Never put it into anything that is hashed. */
  root: string;
  /** Absolute node directory. */
  cwd: string;
  /** The complete environment the node's processes see: declared env plus essentials. */
  env: Record<string, string>;
  /** Aborted on Ctrl-C/SIGTERM; the rule must stop its processes (whole process group). */
  signal: AbortSignal;
  /** Captured output of the node, stored with the cache entry and replayed on a hit. */
  log: NodeLog;
}

export interface NodeLog {
  write(stream: 'stdout' | 'stderr', chunk: string | Uint8Array): void;
}

export type RuleOutcome = { ok: true } | { ok: false; error: string };

/**
 * A rule kind. One module per kind in rules/, registered in rules/index.ts.
 * `version` enters every key made with the rule: bump it when the rule's
 * behaviour changes so old cache entries are not reused.
 */
export interface Rule {
  id: string;
  version: number;
  description: string;
  /** Rule-specific attributes of a node (valibot schemas by key); other keys are unknown. */
  attributes: Record<string, GenericSchema>;
  /** Keys of `attributes` that must be present. */
  required: string[];
  run(ctx: RuleContext): Promise<RuleOutcome>;
}
