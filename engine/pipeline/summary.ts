import fs from 'node:fs';
import type { NodeDecl } from '../buildfile/types.js';
import type { RemoteStats } from '../../cache/remote/session.js';

/** The run summary, format version 1 (DESIGN.md section 3). Scripts read it: keep it stable. */
export interface NodeSummary {
  id: string;
  rule: string;
  key: string | null;
  status: 'built' | 'cached' | 'failed' | 'skipped';
  /** Where a cached node's outputs came from: the local or remote cache, or (with upToDate) the outputs were already in place. */
  cache: 'local' | 'remote' | null;
  /** Present and true for a cached node whose outputs were already on disk as kiln left them: nothing was restored. */
  upToDate?: true;
  durationMs: number;
  outputDigest: string | null;
  error: string | null;
  /** Only when the rule has something to say, e.g. "patch 0003-x.patch already upstream in abc123". */
  notes?: string[];
  /**
   * In a build several agents share (--cobuild, --shard): the agent whose run
   * made the node's result (this one's name for what it built; `host:pid` or
   * KILN_AGENT; `shard 2/3`), or whose failure this is.
   */
  agent?: string;
}

export interface RunSummary {
  version: 1;
  command: string;
  startedAt: string;
  durationMs: number;
  /** The kiln process's peak resident memory so far, in KiB (the daemon's, when it ran the build). */
  peakRssKiB: number;
  /** Present and true only for `kiln build --dry-run`: nothing ran, `skipped` nodes would run. */
  dryRun?: true;
  /** Present when a remote cache was configured: its URL (no credentials), hits, misses, uploads, bytes, errors. */
  remote?: RemoteStats;
  nodes: NodeSummary[];
}

export function writeSummary(file: string, summary: RunSummary): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, `${JSON.stringify(summary, null, 2)}\n`);
  fs.renameSync(tmp, file);
}

/** The summary row of a node outside the build's selection. */
export function notSelected(n: NodeDecl): NodeSummary {
  return { id: n.id, rule: n.rule, key: null, status: 'skipped', cache: null, durationMs: 0, outputDigest: null, error: 'not selected' };
}
