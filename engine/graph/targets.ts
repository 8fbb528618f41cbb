import picomatch from 'picomatch';
import type { NodeDecl, Workspace } from '../buildfile/types.js';
import { suggest } from '../buildfile/hint.js';
import { failAll, ok, type Diagnostic, type Result } from '../diagnostic.js';
import { nodeIndex } from './node-index.js';
import { pushAll } from '../arrays.js';

// Target selection lives apart from graph.ts so that a build never loads
// graphology (~25 ms of imports) just to pick its nodes.

/**
 * The nodes to act on: those matching `patterns` (exact ids, or picomatch
 * globs over ids) plus all their transitive deps. No pattern means every node.
 */
export function selectTargets(ws: Workspace, patterns: readonly string[]): Result<Set<string>> {
  if (patterns.length === 0) return ok(new Set(ws.nodes.map((n) => n.id)));
  const byId = nodeIndex(ws);
  const roots: NodeDecl[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const pattern of patterns) {
    const matched = matchIds(pattern, byId);
    if (matched.length === 0) {
      const hint = suggest(pattern, byId.keys());
      diagnostics.push({ message: `no node matches '${pattern}'`, ...(hint ? { hint } : {}) });
    }
    pushAll(roots, matched);
  }
  if (diagnostics.length > 0) return failAll(diagnostics);
  const selected = new Set<string>();
  for (let node = roots.pop(); node; node = roots.pop()) {
    if (selected.has(node.id)) continue;
    selected.add(node.id);
    for (const dep of node.deps) roots.push(byId.get(dep.id)!);
  }
  return ok(selected);
}

/** Ids cannot contain glob syntax, so a pattern without any is an exact id or nothing. */
function matchIds(pattern: string, byId: ReadonlyMap<string, NodeDecl>): NodeDecl[] {
  const exact = byId.get(pattern);
  if (exact) return [exact];
  if (!picomatch.scan(pattern).isGlob) return [];
  const isMatch = picomatch(pattern, { dot: true });
  return [...byId.values()].filter((n) => isMatch(n.id));
}
