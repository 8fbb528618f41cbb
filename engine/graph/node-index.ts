import type { NodeDecl, Workspace } from '../buildfile/types.js';

const indexes = new WeakMap<Workspace, ReadonlyMap<string, NodeDecl>>();

/** The id → node map of a workspace, built once per loaded workspace however many modules ask (a build, the daemon, why). */
export function nodeIndex(ws: Workspace): ReadonlyMap<string, NodeDecl> {
  let index = indexes.get(ws);
  if (!index) {
    index = new Map(ws.nodes.map((n) => [n.id, n]));
    indexes.set(ws, index);
  }
  return index;
}
