import fs from 'node:fs';
import path from 'node:path';
import type { NodeDecl } from '../buildfile/types.js';
import { OutputSpec } from '../../cache/local/output-spec.js';
import type { TraceAlias } from '../../rules/rule.js';
import { sha256Hex } from '../keys/hash/sha256.js';
import type { StatCache } from '../keys/hash/stat-cache.js';
import { RACY_MARGIN_MS, missingLine, statLine } from '../keys/stamps.js';
import type { FileAccesses } from './accesses.js';
import { within } from '../buildfile/paths.js';
import { workspaceRel } from './scope.js';

/**
 * A traced node's inputs, as its key holds them: each workspace-relative
 * path its commands read, looked at or looked for → what is there now:
 * `file:<digest>`, `dir`, `absent` or `other`; for each directory they
 * listed, `<dir>/` → `listing:<digest of its entry names and types>`; and
 * each program they ran from outside the workspace, by absolute path →
 * `file:<digest>`.
 * Verifying a trace is observing its paths again: the key is the same
 * exactly when everything the commands saw is the same (a file probed for
 * and now present is `absent` no more).
 */
export type Observation = Record<string, string>;

/** A trace that cannot vouch for a result, and why (the node's outputs are then not cached). */
export type Untraceable = { why: string };

/**
 * The paths of a run's accesses that enter the key, as Observation keys,
 * sorted. Where the command worked in a copy (`aliases`), paths under the
 * copy stand for the originals. Not keyed: paths outside the workspace
 * (toolchains are keyed by version), kiln's state and VCS internals, the
 * node's own outputs, and what the command only looked at after writing it.
 */
export function traceKeys(acc: FileAccesses, root: string, node: NodeDecl, aliases: readonly TraceAlias[]): string[] | Untraceable {
  if (acc.unplaced.length > 0) return { why: `the trace holds ${acc.unplaced[0]}` };
  const nodeDir = path.join(root, node.dir);
  const own = OutputSpec.of(node.outputs);
  const unalias = (abs: string) => unaliased(abs, aliases);
  const written = new Set([...acc.writes].map(unalias));
  // A path looked at before the command wrote it is keyed (the parser dropped looks after a write): by what the
  // command left, as a declared input it rewrites is (a formatter's source). Its own products are not inputs.
  const keyed = (abs: string): string | undefined => {
    const real = unalias(abs);
    const rel = workspaceRel(root, real);
    if (rel === undefined) return undefined;
    const inNode = within(nodeDir, real);
    return inNode && own.isProduct(inNode) ? undefined : rel;
  };
  const keys = new Set<string>();
  for (const abs of [...acc.reads, ...acc.stats, ...acc.absent]) {
    const rel = keyed(abs);
    if (rel !== undefined) keys.add(rel);
  }
  for (const abs of acc.listings) {
    const rel = keyed(abs);
    if (rel !== undefined) keys.add(`${rel}/`);
  }
  // A program run from outside the workspace (the shell, the interpreter, the compiler's passes) is keyed by
  // its bytes, absolute: its version, without the files of its installation it reads.
  for (const abs of acc.execs) {
    const real = unalias(abs);
    if (!written.has(real) && within(root, real) === undefined) keys.add(path.normalize(real));
  }
  return [...keys].sort();
}

/** The path a traced path stands for: under an alias's copy, the original's. */
export function unaliased(abs: string, aliases: readonly TraceAlias[]): string {
  for (const a of aliases) {
    const rel = within(a.from, abs);
    if (rel !== undefined) return path.join(a.to, rel);
  }
  return abs;
}

/**
 * What each key's path is now (see Observation), and the stamp of what was
 * observed: the stat line of every path (the directory, for a listing),
 * node-dir-relative like every input stamp, from the very stat the
 * observation was made with; null when one changed within the racy margin.
 * A listing leaves out what is never an input: the node's own outputs
 * (`isOwnOutput`, workspace-relative), `.kiln` and `.git`.
 */
export function observe(
  root: string,
  nodeDir: string,
  keys: readonly string[],
  stats: StatCache,
  isOwnOutput: (rel: string) => boolean,
): { observation: Observation; stamp: string | null } {
  const observation: Observation = {};
  const lines: string[] = [];
  const trustedBefore = Date.now() - RACY_MARGIN_MS;
  let racy = false;
  const nodeDirAbs = path.join(root, nodeDir);
  for (const key of keys) {
    const rel = key.endsWith('/') ? key.slice(0, -1) : key;
    // Absolute: a program outside the workspace (see traceKeys).
    const abs = path.isAbsolute(rel) ? rel : path.join(root, rel);
    const st = statOrUndefined(abs);
    const stampRel = path.relative(nodeDirAbs, abs).split(path.sep).join('/') || '.';
    if (st) {
      lines.push(statLine(stampRel, st));
      if (st.mtimeMs >= trustedBefore || st.ctimeMs >= trustedBefore) racy = true;
    } else {
      lines.push(missingLine(stampRel));
    }
    observation[key] = key.endsWith('/') ? listing(abs, st, rel, isOwnOutput) : entry(abs, rel, st, stats);
  }
  return { observation, stamp: racy ? null : [...new Set(lines)].sort().join('\n') };
}

function statOrUndefined(abs: string): fs.Stats | undefined {
  try {
    return fs.statSync(abs);
  } catch {
    return undefined;
  }
}

function entry(abs: string, rel: string, st: fs.Stats | undefined, stats: StatCache): string {
  if (!st) return 'absent';
  if (st.isFile()) return `file:${stats.digest(abs, rel, st)}`;
  return st.isDirectory() ? 'dir' : 'other';
}

function listing(abs: string, st: fs.Stats | undefined, rel: string, isOwnOutput: (rel: string) => boolean): string {
  if (!st) return 'absent';
  if (!st.isDirectory()) return 'other';
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(abs, { withFileTypes: true });
  } catch {
    return 'absent';
  }
  const lines = entries
    .filter((d) => d.name !== '.kiln' && d.name !== '.git' && !isOwnOutput(rel === '.' ? d.name : `${rel}/${d.name}`))
    .map((d) => `${d.name}\t${d.isDirectory() ? 'd' : d.isSymbolicLink() ? 'l' : 'f'}`)
    .sort();
  return `listing:${sha256Hex(lines.join('\n'))}`;
}

/**
 * File times come from the kernel's coarse clock, up to a tick (10 ms at
 * HZ=100) behind the time of the write: a file written after the run began
 * can carry a time up to this much before it.
 */
const COARSE_CLOCK_MS = 10;

/**
 * A file of the trace changed while the command ran, by someone else (git
 * checkout, an editor): what it read may not be what is there now, so the
 * result must not be cached under what is there now. The racy rule of
 * stamps (keys/stamps.ts), applied to the run's window; a file written in
 * the few ms before the run counts too, which only costs a rerun.
 */
export function changedDuringRun(root: string, keys: readonly string[], runStartMs: number, ownWrites: ReadonlySet<string>): string | undefined {
  for (const key of keys) {
    if (key.endsWith('/') || ownWrites.has(path.resolve(root, key))) continue;
    try {
      const st = fs.statSync(path.join(root, key));
      if (st.isFile() && Math.max(st.mtimeMs, st.ctimeMs) >= runStartMs - COARSE_CLOCK_MS) return key;
    } catch {
      // gone: observed as absent, and a change the next build sees
    }
  }
  return undefined;
}
