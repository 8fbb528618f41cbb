import fs from 'node:fs';
import path from 'node:path';
import type { NodeDecl } from '../buildfile/types.js';
import { NO_PRODUCT_DIRS } from '../../cache/local/output-spec.js';
import { statLine } from './stamps.js';

/**
 * What a command wrote into its node dir, found by scanning the dir before
 * and after it ran (stat only). This is how kiln learns the files an npm
 * script writes that no output declares: they must not become inputs of
 * the script's next run (it would never settle), and a node that declares
 * no outputs caches what it created.
 */
export interface Writes {
  /** Paths that did not exist before: the topmost of each new subtree (`dist`, not `dist/a.js`). */
  created: string[];
  /** Files that existed before and were rewritten (a formatter, a codegen step writing sources). */
  modified: string[];
}

/** Node-dir-relative path → a line that changes when the entry is rewritten, replaced or retyped. */
export type TreeScan = Map<string, string>;

/**
 * Every file, directory and symlink under `nodeDirAbs`, except what
 * `skip` names (node-dir-relative: declared outputs, nested packages) and
 * dirs named in NO_PRODUCT_DIRS. Iterative, lstat-based (a symlink is an
 * entry, not followed).
 */
export function scanTree(nodeDirAbs: string, skip: (rel: string) => boolean): TreeScan {
  const scan: TreeScan = new Map();
  const stack = [''];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(path.join(nodeDirAbs, dir), { withFileTypes: true });
    } catch {
      continue; // removed while scanning: what the next scan sees is what counts
    }
    for (const e of entries) {
      const rel = dir === '' ? e.name : `${dir}/${e.name}`;
      if (skip(rel) || (e.isDirectory() && NO_PRODUCT_DIRS.has(e.name))) continue;
      if (e.isDirectory()) {
        scan.set(rel, 'dir');
        stack.push(rel);
        continue;
      }
      let st: fs.Stats;
      try {
        st = fs.lstatSync(path.join(nodeDirAbs, rel));
      } catch {
        continue;
      }
      scan.set(rel, statLine(rel, st));
    }
  }
  return scan;
}

/** What changed between two scans of one dir. Deletions are not writes anyone must declare. */
export function diffScans(before: TreeScan, after: TreeScan): Writes {
  const created: string[] = [];
  const modified: string[] = [];
  for (const [rel, line] of after) {
    const was = before.get(rel);
    if (was === undefined) {
      const parent = path.posix.dirname(rel);
      // Only the top of a new subtree: its parent existed before (or is the node dir).
      if (parent === '.' || before.get(parent) === 'dir') created.push(rel);
    } else if (was !== line && line !== 'dir') {
      modified.push(rel);
    }
  }
  return { created: created.sort(), modified: modified.sort() };
}

/** Runs `command` between two scans of `nodeDirAbs`, and says what it wrote. */
export async function scanWrites<T>(nodeDirAbs: string, skip: (rel: string) => boolean, command: () => Promise<T>): Promise<{ outcome: T; writes: Writes }> {
  const before = scanTree(nodeDirAbs, skip);
  const outcome = await command();
  return { outcome, writes: diffScans(before, scanTree(nodeDirAbs, skip)) };
}

/**
 * Runs tasks one node dir at a time: two scripts of one package running at
 * once would each see the other's writes as their own (and cache them), and
 * one's key could be taken while the other is half way through writing.
 * Tasks in different dirs still run in parallel.
 */
export class DirQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  async exclusive<T>(dir: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(dir) ?? Promise.resolve();
    const mine = previous.then(task, task);
    const tail = mine.catch(() => undefined);
    this.tails.set(dir, tail);
    try {
      return await mine;
    } finally {
      if (this.tails.get(dir) === tail) this.tails.delete(dir);
    }
  }
}

/** Whether `abs` is a directory (through links); false when it is not there. */
export function isDir(abs: string): boolean {
  try {
    return fs.statSync(abs).isDirectory();
  } catch {
    return false;
  }
}

/**
 * What a script created, as output globs a person would declare: each
 * top-level directory whole (`dist/**`, however deep the created paths
 * were: a leftover empty dir must not split it into files), Next.js's cache
 * left out, top-level files as they are. Exclusions last.
 */
export function outputGlobsOf(nodeDirAbs: string, created: readonly string[]): string[] {
  const globs = new Set<string>();
  for (const p of created) {
    const top = p.split('/')[0]!;
    if (!isDir(path.join(nodeDirAbs, top))) globs.add(p);
    else if (top === '.next') globs.add('.next/**').add('!.next/cache/**');
    else globs.add(`${top}/**`);
  }
  return [...globs].sort((a, b) => Number(a.startsWith('!')) - Number(b.startsWith('!')) || (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * What a node's inputs leave out as undeclared products: what it created
 * itself (`own`) and what the other scripts of its package created
 * (`writtenOf` their ids). The build and the daemon's proofs must agree on
 * it, or they compute different keys.
 */
export function excludedProducts(node: NodeDecl, own: readonly string[], writtenOf: (id: string) => readonly string[] | undefined): string[] {
  return [...new Set([...own, ...(node.writeScan?.siblings ?? []).flatMap((s) => writtenOf(s) ?? [])])];
}
