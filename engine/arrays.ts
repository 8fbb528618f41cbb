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
