/**
 * What a traced command did to the filesystem, as absolute paths, in the
 * terms a build system needs (Build Systems a la Carte's verifying traces;
 * BuildXL's observed inputs; fsatrace's r/w/q/... letters).
 */
export interface FileAccesses {
  /** Files whose content was read: opened for reading, or executed. */
  reads: Set<string>;
  /** Programs executed (also in `reads`): outside the workspace, what stands for a toolchain's version. */
  execs: Set<string>;
  /** Paths whose existence, type or metadata were looked at (stat, access, readlink, opening a directory). */
  stats: Set<string>;
  /** Directories whose entries were listed. */
  listings: Set<string>;
  /** Paths looked for and not found: one that appears later must count as a change. */
  absent: Set<string>;
  /** Paths created, written, truncated, renamed (both names), removed or changed in metadata. */
  writes: Set<string>;
  /**
   * Set when the trace holds something that cannot be placed: a path relative
   * to a descriptor strace could not name, a path that is not valid UTF-8.
   * Such a trace must not vouch for anything.
   */
  unplaced: string[];
}

export function emptyAccesses(): FileAccesses {
  return { reads: new Set(), execs: new Set(), stats: new Set(), listings: new Set(), absent: new Set(), writes: new Set(), unplaced: [] };
}
