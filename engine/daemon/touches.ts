import path from 'node:path';
import { ancestors } from './watch-set.js';

/** The owner of what the workspace memo relies on (build files, package.json files): a change there touches every node. */
export const WORKSPACE = '';

interface DirOwners {
  /** Owners of every entry of the directory (a walked input directory). */
  all: Set<string>;
  /** Owners of one entry, by name (a stamped file, or the next directory down towards one). */
  named: Map<string, Set<string>>;
}

/**
 * The inverse of the watch plan: which nodes a change seen in a watched
 * directory can touch. Ancestors are included, so renaming a parent touches
 * every node below it, and nothing else.
 */
export class Touches {
  private readonly byDir = new Map<string, DirOwners>();

  /** `owner` depends on `name` in `dir` ('*': on every entry of it). */
  add(owner: string, dir: string, name: string): void {
    this.own(owner, dir, name);
    for (const [parent, child] of ancestors(dir)) this.own(owner, parent, child);
  }

  private own(owner: string, dir: string, name: string): void {
    let owners = this.byDir.get(dir);
    if (!owners) this.byDir.set(dir, (owners = { all: new Set(), named: new Map() }));
    if (name === '*') {
      owners.all.add(owner);
      return;
    }
    let set = owners.named.get(name);
    if (!set) owners.named.set(name, (set = new Set()));
    set.add(owner);
  }

  /** The nodes the changes touch, or WORKSPACE when they touch what the workspace itself is made of. */
  touched(changes: readonly { dir: string; name: string | null }[]): Set<string> | typeof WORKSPACE {
    const out = new Set<string>();
    for (const { dir, name } of changes) {
      const owners = this.byDir.get(dir);
      if (!owners) continue;
      // No name, or the directory's own name (it moved or went away): everything that depends on it.
      const whole = name === null || name === path.posix.basename(dir);
      for (const o of owners.all) out.add(o);
      if (whole) for (const set of owners.named.values()) for (const o of set) out.add(o);
      else for (const o of owners.named.get(name) ?? []) out.add(o);
    }
    return out.has(WORKSPACE) ? WORKSPACE : out;
  }
}
