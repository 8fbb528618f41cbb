/**
 * Helpers for lists of any length. `list.push(...items)` and
 * `Math.max(...items)` pass every item as an argument, and past about
 * 120,000 arguments the call overflows the stack: a 150,000-node build file
 * crashed its load that way.
 */

/** Appends `items` to `target`, one by one. */
export function pushAll<T>(target: T[], items: Iterable<T>): void {
  for (const item of items) target.push(item);
}

/**
 * Drops from `items`, in place, every item whose key an earlier item has,
 * telling `repeated` of each with the earlier one; returns `items`. Short
 * lists (a node's keys, its deps) are compared pairwise: a Map for each
 * would cost a 100,000-node build file one per node and key.
 */
export function dropRepeats<T>(items: T[], keyOf: (item: T) => string, repeated: (item: T, earlier: T) => void): T[] {
  const first = items.length > 16 ? new Map<string, T>() : undefined;
  let kept = 0;
  for (const item of items) {
    const key = keyOf(item);
    let earlier = first?.get(key);
    for (let i = 0; !first && earlier === undefined && i < kept; i++) if (keyOf(items[i]!) === key) earlier = items[i];
    if (earlier !== undefined) {
      repeated(item, earlier);
      continue;
    }
    first?.set(key, item);
    items[kept++] = item;
  }
  // Setting the length is a runtime call even when nothing was dropped: 20 ms over 100,000 nodes.
  if (kept !== items.length) items.length = kept;
  return items;
}

/**
 * `f` of each item, leaving out the items it answers undefined for. The
 * list is sized up front and trimmed once: pushing into an empty array
 * reserves 17 slots, and the lists of a build file's nodes hold one to
 * three items.
 */
export function mapDefined<T, U>(items: readonly T[], f: (item: T) => U | undefined): U[] {
  const out = new Array<U>(items.length);
  let kept = 0;
  for (const item of items) {
    const value = f(item);
    if (value !== undefined) out[kept++] = value;
  }
  if (kept !== out.length) out.length = kept;
  return out;
}

/** The smallest of `values` (Infinity for none). */
export function minOf(values: Iterable<number>): number {
  let min = Infinity;
  for (const v of values) if (v < min) min = v;
  return min;
}

/** The largest of `values` (-Infinity for none). */
export function maxOf(values: Iterable<number>): number {
  let max = -Infinity;
  for (const v of values) if (v > max) max = v;
  return max;
}

/**
 * The empty list of every declaration that has none of something: one for
 * all of them (a 100,000-node file made 900,000 empty arrays), frozen so
 * nothing pushes into the list another node shares.
 */
export const NONE: readonly never[] = Object.freeze([]);
