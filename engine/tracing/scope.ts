import fs from 'node:fs';
import path from 'node:path';
import { within } from '../buildfile/paths.js';
import type { FileAccesses } from './accesses.js';

/** kiln's state and VCS internals, at any depth (a test's scratch copy lives in `<node dir>/.kiln/`). */
const NEVER = /(?:^|\/)\.(?:kiln|git)(?:\/|$)/;

/**
 * The workspace-relative posix path of a traced path, or undefined when it
 * is not the workspace's to key or audit: outside the workspace (the system,
 * toolchains, the home and temp dirs; toolchains are keyed by version), or
 * kiln's own state and VCS internals. The workspace root itself is '.'.
 */
export function workspaceRel(root: string, abs: string): string | undefined {
  const rel = within(root, abs);
  if (rel === undefined) return undefined;
  if (rel === '') return '.';
  return NEVER.test(rel) ? undefined : rel;
}

/**
 * The accesses with paths under the workspace's real path written under the
 * workspace root as kiln knows it. strace names directories by their real
 * path (`AT_FDCWD</data/home/me/ws>`), so in a workspace reached through a
 * symlink (`/home` -> `/data/home`) every relative path would otherwise
 * look like one outside the workspace, and be keyed by nothing.
 */
export function rootedAccesses(acc: FileAccesses, root: string): FileAccesses {
  let real: string;
  try {
    real = fs.realpathSync(root);
  } catch {
    return acc;
  }
  if (real === root) return acc;
  const map = (p: string) => (p === real ? root : p.startsWith(`${real}${path.sep}`) ? `${root}${p.slice(real.length)}` : p);
  const all = (set: Set<string>) => new Set([...set].map(map));
  return {
    reads: all(acc.reads),
    execs: all(acc.execs),
    stats: all(acc.stats),
    listings: all(acc.listings),
    absent: all(acc.absent),
    writes: all(acc.writes),
    unplaced: acc.unplaced,
  };
}
