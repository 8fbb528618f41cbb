/** Small helpers for the report's hand-written HTML and SVG. */

/** Escapes text for HTML and SVG content and attribute values. */
export function esc(text: string | number): string {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** The opening tag of an inline SVG chart of this class and size, described for screen readers by `label`. */
export function svgOpen(cls: string, width: number, height: number, label: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" class="${cls}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(label)}">`;
}

/** SVG coordinates to 0.1 px: enough for the eye, short in the file. */
export const px = (v: number) => String(Math.round(v * 10) / 10);

/**
 * Axis ticks 0, step, 2·step, … up to the first one at or above `max`
 * (the axis's end), with a step of 1, 2 or 5 × 10^k giving about `count` ticks.
 */
export function ticks(max: number, count: number): number[] {
  if (max <= 0) return [0, 1];
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((f) => f * magnitude).find((s) => s >= raw)!;
  const out = [0];
  // Integer multiples, so 0.6 is not 0.6000000000000001.
  for (let i = 1; out[out.length - 1]! < max; i++) out.push(Number((i * step).toPrecision(12)));
  return out;
}

/** A tick label in ms or s: `0`, `250 ms`, `1.5 s`. */
export function tickLabel(ms: number): string {
  if (ms === 0) return '0';
  return ms < 1000 ? `${ms} ms` : `${Number((ms / 1000).toPrecision(12))} s`;
}
