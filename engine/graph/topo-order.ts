/**
 * `ids` and everything they depend on, each after all its deps (a
 * post-order DFS), with an explicit stack: a dependency chain of 100,000
 * nodes must not overflow the call stack. `depsOf` may name ids outside
 * `ids`; they are ordered too. Cycles are the loader's to report: a node
 * met again while open is not waited for.
 */
export function topoOrder(ids: Iterable<string>, depsOf: (id: string) => readonly string[]): string[] {
  const order: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  for (const start of ids) {
    if (state.has(start)) continue;
    const stack: { id: string; deps: readonly string[]; next: number }[] = [{ id: start, deps: depsOf(start), next: 0 }];
    state.set(start, 'open');
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.next < top.deps.length) {
        const dep = top.deps[top.next++]!;
        if (!state.has(dep)) {
          state.set(dep, 'open');
          stack.push({ id: dep, deps: depsOf(dep), next: 0 });
        }
        continue;
      }
      stack.pop();
      state.set(top.id, 'done');
      order.push(top.id);
    }
  }
  return order;
}
