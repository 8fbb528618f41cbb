/**
 * `ids` and everything they depend on, each after all its deps (a
 * post-order DFS), with an explicit stack: a dependency chain of 100,000
 * nodes must not overflow the call stack. `depsOf` may name ids outside
 * `ids`; they are ordered too. Cycles are the loader's to report: a node
 * met again while open is not waited for.
 */
export function topoOrder(ids: Iterable<string>, depsOf: (id: string) => readonly string[]): string[] {
  const order: string[] = [];
  // Each id gets a place when first met; the DFS stack holds places and next-dep positions in typed arrays, not a frame object per node.
  const place = new Map<string, number>();
  const names: string[] = [];
  const deps: (readonly string[])[] = [];
  let stack = new Int32Array(1024);
  let next = new Int32Array(1024);
  let depth = 0;
  const open = (id: string): void => {
    place.set(id, names.length);
    if (depth === stack.length) {
      stack = grown(stack);
      next = grown(next);
    }
    stack[depth] = names.length;
    next[depth++] = 0;
    names.push(id);
    deps.push(depsOf(id));
  };
  for (const start of ids) {
    if (place.has(start)) continue;
    open(start);
    while (depth > 0) {
      const at = stack[depth - 1]!;
      const list = deps[at]!;
      const i = next[depth - 1]!;
      if (i < list.length) {
        next[depth - 1] = i + 1;
        if (!place.has(list[i]!)) open(list[i]!);
        continue;
      }
      depth--;
      order.push(names[at]!);
    }
  }
  return order;
}

/** `from`'s items at the start of a list twice as long. */
function grown(from: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const to = new Int32Array(from.length * 2);
  to.set(from);
  return to;
}
