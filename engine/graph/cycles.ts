import type { NodeDecl } from '../buildfile/types.js';
import { located } from '../buildfile/hint.js';
import type { Diagnostic } from '../diagnostic.js';

/**
 * Every dependency cycle among `nodes`, each reported once at the dep entry
 * that closes it, with the path in dependency direction (`a -> b` = a
 * depends on b). Unknown deps and self-deps are left to the loader's own
 * messages. Iterative, so a long dependency chain cannot overflow the stack.
 */
export function findCycles(nodes: readonly NodeDecl[], byId: ReadonlyMap<string, NodeDecl> = new Map(nodes.map((n) => [n.id, n]))): Diagnostic[] {
  const state = new Map<NodeDecl, 'open' | 'done'>();
  const diagnostics: Diagnostic[] = [];
  for (const start of nodes) {
    if (state.has(start)) continue;
    const stack = [{ node: start, next: 0 }];
    state.set(start, 'open');
    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!;
      const dep = frame.node.deps[frame.next++];
      if (!dep) {
        state.set(frame.node, 'done');
        stack.pop();
        continue;
      }
      const target = byId.get(dep.id);
      if (!target || target === frame.node) continue;
      const seen = state.get(target);
      if (seen === undefined) {
        state.set(target, 'open');
        stack.push({ node: target, next: 0 });
      } else if (seen === 'open') {
        const from = stack.findIndex((f) => f.node === target);
        const path = [...stack.slice(from).map((f) => f.node.id), target.id].join(' -> ');
        diagnostics.push(located(dep.pos, `dependency cycle: ${path}`, 'remove one of these deps', frame.node.id));
      }
    }
  }
  return diagnostics;
}
