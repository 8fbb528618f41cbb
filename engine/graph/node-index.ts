import type { NodeDecl, Workspace } from '../buildfile/types.js';

const indexes = new WeakMap<Workspace, ReadonlyMap<string, NodeDecl>>();

/** The id → node map of a workspace, built once per loaded workspace however many modules ask (a build, the daemon, why). */
export function nodeIndex(ws: Workspace): ReadonlyMap<string, NodeDecl> {
  let index = indexes.get(ws);
  if (!index) {
    // Set one by one: a list of [id, node] pairs to build it from was 100,000 more arrays.
    const made = new Map<string, NodeDecl>();
    for (const n of ws.nodes) made.set(n.id, n);
    indexes.set(ws, made);
    index = made;
  }
  return index;
}
