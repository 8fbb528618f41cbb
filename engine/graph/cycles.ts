import type { NodeDecl } from '../buildfile/types.js';
import { located } from '../buildfile/hint.js';
import { positionIn } from '../buildfile/near-pos.js';
import type { Diagnostic } from '../diagnostic.js';

/**
 * The deps of a node list resolved to places in it, edge by edge: node i's
 * deps are `edges[first[i]]` up to `edges[first[i + 1]]`, in order, -1 for
 * an unknown dep or the node itself. Resolved once, the id index is asked
 * once per edge, however many walks follow them.
 */
export interface ResolvedDeps {
  first: Int32Array;
  edges: Int32Array;
}

export function resolveDeps(nodes: readonly NodeDecl[], indexOf: ReadonlyMap<string, number>): ResolvedDeps {
  const first = new Int32Array(nodes.length + 1);
  for (let i = 0; i < nodes.length; i++) first[i + 1] = first[i]! + nodes[i]!.deps.length;
  const edges = new Int32Array(first[nodes.length]!);
  for (let i = 0; i < nodes.length; i++) {
    const deps = nodes[i]!.deps;
    for (let j = 0; j < deps.length; j++) {
      const target = indexOf.get(deps[j]!.id);
      edges[first[i]! + j] = target === undefined || target === i ? -1 : target;
    }
  }
  return { first, edges };
}

/**
 * Every dependency cycle among `nodes`, each reported once at the dep entry
 * that closes it, with the path in dependency direction (`a -> b` = a
 * depends on b). Unknown deps and self-deps are left to the loader's own
 * messages. Iterative, so a long dependency chain cannot overflow the stack.
 */
export function findCycles(nodes: readonly NodeDecl[], { first, edges }: ResolvedDeps = resolveDeps(nodes, new Map(nodes.map((n, i) => [n.id, i])))): Diagnostic[] {
  // Typed arrays indexed like `nodes`: a 100,000-node graph costs no Map of states and no frame objects.
  const state = new Uint8Array(nodes.length);
  const path = new Int32Array(nodes.length);
  const nextEdge = new Int32Array(nodes.length);
  const diagnostics: Diagnostic[] = [];
  for (let start = 0; start < nodes.length; start++) {
    if (state[start] !== NEW) continue;
    state[start] = OPEN;
    path[0] = start;
    nextEdge[0] = first[start]!;
    let depth = 1;
    while (depth > 0) {
      const at = path[depth - 1]!;
      const edge = nextEdge[depth - 1]!++;
      if (edge === first[at + 1]) {
        state[at] = DONE;
        depth--;
        continue;
      }
      const target = edges[edge]!;
      if (target === -1) continue;
      if (state[target] === NEW) {
        state[target] = OPEN;
        path[depth] = target;
        nextEdge[depth++] = first[target]!;
      } else if (state[target] === OPEN) {
        const from = path.subarray(0, depth).indexOf(target);
        const ids = [...path.subarray(from, depth)].map((i) => nodes[i]!.id);
        const dep = nodes[at]!.deps[edge - first[at]!]!;
        diagnostics.push(located(positionIn(nodes[at]!.pos, dep.pos), `dependency cycle: ${[...ids, nodes[target]!.id].join(' -> ')}`, 'remove one of these deps', nodes[at]!.id));
      }
    }
  }
  return diagnostics;
}

const NEW = 0;
const OPEN = 1;
const DONE = 2;
