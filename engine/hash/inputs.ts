import path from 'node:path';
import picomatch from 'picomatch';
import { globSync } from 'tinyglobby';
import type { InputPattern, NodeDecl } from '../buildfile/types.js';
import type { StatCache } from './stat-cache.js';

/** Never inputs: kiln's own state and VCS internals. */
const ALWAYS_IGNORED = ['**/.kiln/**', '**/.git/**'];

export interface ExpandedInputs {
  /** Node-dir-relative posix path → content digest, sorted by path. */
  files: Record<string, string>;
  /** Required patterns that matched no file. */
  unmatched: InputPattern[];
}

/**
 * Expands a node's input globs and digests every matched file. The node's
 * own outputs are never its inputs (a rule that rewrites its outputs would
 * otherwise change its own key).
 */
export function expandInputs(root: string, node: NodeDecl, stats: StatCache): ExpandedInputs {
  const positive = node.inputs.filter((p) => !p.glob.startsWith('!'));
  if (positive.length === 0) return { files: {}, unmatched: [] };
  const ignore = [
    ...node.inputs.filter((p) => p.glob.startsWith('!')).map((p) => p.glob.slice(1)),
    ...node.outputs.flatMap((o) => [o, `${o}/**`]),
    ...ALWAYS_IGNORED,
  ];
  const cwd = path.join(root, node.dir);
  const matched = globSync(
    positive.map((p) => p.glob),
    { cwd, ignore, dot: true, onlyFiles: true, expandDirectories: false },
  ).sort();
  const files: Record<string, string> = {};
  for (const rel of matched) {
    files[rel] = stats.digest(path.join(cwd, rel), path.posix.join(node.dir, rel));
  }
  const unmatched = positive.filter((p) => {
    if (!p.required) return false;
    const isMatch = picomatch(p.glob, { dot: true });
    return !matched.some((f) => isMatch(f));
  });
  return { files, unmatched };
}
