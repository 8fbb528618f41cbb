import type { NodeDecl } from '../buildfile/types.js';
import { located } from '../buildfile/hint.js';
import type { Diagnostic } from '../diagnostic.js';

/**
 * Every dependency cycle among `nodes`, each reported once at the dep entry
 * that closes it, with the path in dependency direction (`a -> b` = a
 * depends on b). Unknown deps and self-deps are left to the loader's own
 * messages. Iterative, so a long dependency chain cannot overflow the stack.
 */
export function findCycles(nodes: readonly NodeDecl[], indexOf: ReadonlyMap<string, number> = new Map(nodes.map((n, i) => [n.id, i]))): Diagnostic[] {
  // Typed arrays indexed like `nodes`: a 100,000-node graph costs no Map of states and no frame objects.
  const state = new Uint8Array(nodes.length);
  const path = new Int32Array(nodes.length);
  const nextDep = new Int32Array(nodes.length);
  const diagnostics: Diagnostic[] = [];
  for (let start = 0; start < nodes.length; start++) {
    if (state[start] !== NEW) continue;
    state[start] = OPEN;
    path[0] = start;
    nextDep[0] = 0;
    let depth = 1;
    while (depth > 0) {
      const at = path[depth - 1]!;
      const node = nodes[at]!;
      const dep = node.deps[nextDep[depth - 1]!++];
      if (!dep) {
        state[at] = DONE;
        depth--;
        continue;
      }
      const target = indexOf.get(dep.id);
      if (target === undefined || target === at) continue;
      if (state[target] === NEW) {
        state[target] = OPEN;
        path[depth] = target;
        nextDep[depth++] = 0;
      } else if (state[target] === OPEN) {
        const from = path.subarray(0, depth).indexOf(target);
        const ids = [...path.subarray(from, depth)].map((i) => nodes[i]!.id);
        diagnostics.push(located(dep.pos, `dependency cycle: ${[...ids, nodes[target]!.id].join(' -> ')}`, 'remove one of these deps', node.id));
      }
    }
  }
  return diagnostics;
}

const NEW = 0;
const OPEN = 1;
const DONE = 2;
