import { formatMs } from './format.js';
import type { RunRecord } from '../state/run-record.js';
import { hitRate } from './model.js';
import { esc, px, svgOpen, tickLabel, ticks } from './svg.js';
import { formatTime } from './text.js';

const LEFT = 64;
const PLOT_W = 900;
const RIGHT = 50;
const TOP = 16;
const PLOT_H = 200;
const BOTTOM = 36;
/** At most this many run ids under the bars; with more runs, every k-th. */
const MAX_X_LABELS = 30;

/**
 * Build time and hit rate of runs (oldest first): one `rect.bar[data-run]`
 * per run on the duration axis (left), `.current` on the reported run, and
 * one `circle.hit` per run with a verdict on the hit-rate axis (right).
 */
export function historySvg(runs: RunRecord[], currentId: number): string {
  const width = LEFT + PLOT_W + RIGHT;
  const height = TOP + PLOT_H + BOTTOM;
  const axis = ticks(Math.max(0, ...runs.map((r) => r.durationMs)), 5);
  const yMs = (ms: number) => TOP + PLOT_H - (ms / axis[axis.length - 1]!) * PLOT_H;
  const yRate = (ratio: number) => TOP + PLOT_H - ratio * PLOT_H;
  const slot = PLOT_W / Math.max(1, runs.length);
  const barW = Math.min(40, slot * 0.7);
  const cx = (i: number) => LEFT + slot * i + slot / 2;
  const labelEvery = Math.ceil(runs.length / MAX_X_LABELS);

  const out = [svgOpen('history', width, height, `build time and hit rate of the last ${runs.length} runs`)];
  for (const t of axis) {
    out.push(
      `<line class="grid" x1="${LEFT}" x2="${LEFT + PLOT_W}" y1="${px(yMs(t))}" y2="${px(yMs(t))}"/>`,
      `<text class="tick" x="${LEFT - 6}" y="${px(yMs(t) + 4)}" text-anchor="end">${tickLabel(t)}</text>`,
    );
  }
  for (const pct of [0, 50, 100]) {
    out.push(`<text class="tick hit-tick" x="${LEFT + PLOT_W + 6}" y="${px(yRate(pct / 100) + 4)}">${pct}%</text>`);
  }
  const points: string[] = [];
  for (const [i, r] of runs.entries()) {
    const hits = hitRate(r);
    const rate = hits.ratio === null ? 'no node evaluated' : `hit rate ${Math.round(hits.ratio * 100)}% (${hits.cached} of ${hits.evaluated})`;
    const tip = `run ${r.id} (${r.command}), ${formatTime(r.startedAt)}\n${formatMs(r.durationMs)}, ${rate}${r.exitCode !== 0 ? `\nexit ${r.exitCode}` : ''}`;
    const y = yMs(r.durationMs);
    const cls = `bar${r.id === currentId ? ' current' : ''}${r.exitCode !== 0 ? ' failed' : ''}`;
    out.push(
      `<rect class="${cls}" data-run="${r.id}" x="${px(cx(i) - barW / 2)}" y="${px(y)}" width="${px(barW)}" height="${px(TOP + PLOT_H - y)}"><title>${esc(tip)}</title></rect>`,
    );
    if (i % labelEvery === 0 || r.id === currentId) {
      out.push(`<text class="tick" x="${px(cx(i))}" y="${TOP + PLOT_H + 16}" text-anchor="middle">${r.id}</text>`);
    }
    if (hits.ratio !== null) points.push(`${px(cx(i))},${px(yRate(hits.ratio))}`);
  }
  if (points.length > 1) out.push(`<polyline class="hit-line" points="${points.join(' ')}"/>`);
  for (const [i, r] of runs.entries()) {
    const hits = hitRate(r);
    if (hits.ratio === null) continue;
    out.push(
      `<circle class="hit" data-run="${r.id}" cx="${px(cx(i))}" cy="${px(yRate(hits.ratio))}" r="4"><title>${esc(`run ${r.id}: hit rate ${Math.round(hits.ratio * 100)}%`)}</title></circle>`,
    );
  }
  out.push(
    `<text class="axis-title" x="${LEFT + PLOT_W / 2}" y="${height - 4}" text-anchor="middle">run</text>`,
    `<line class="axis" x1="${LEFT}" x2="${LEFT + PLOT_W}" y1="${TOP + PLOT_H}" y2="${TOP + PLOT_H}"/>`,
    '</svg>',
  );
  return out.join('\n');
}
