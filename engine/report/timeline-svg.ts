import { formatBytes, formatMs } from './format.js';
import type { NodeRunRecord } from '../state/run-record.js';
import type { ReportModel } from './model.js';
import { esc, px, svgOpen, tickLabel, ticks } from './svg.js';
import { formatStatus } from './text.js';

const LABEL_W = 90;
const PLOT_W = 960;
const AXIS_H = 26;
const ROW_H = 26;
const BAR_H = 18;
/** Approximate width of a character of the 11 px label font, to decide whether a name fits its rect. */
const CHAR_W = 6.4;

/** The nodes drawn on the timeline: those that started and did something (not skipped). */
export function timedNodes(nodes: NodeRunRecord[]): (NodeRunRecord & { startMs: number; lane: number })[] {
  return nodes.filter((n): n is NodeRunRecord & { startMs: number; lane: number } => n.startMs !== null && n.lane !== null && n.status !== 'skipped');
}

/**
 * The run as a Gantt chart: one row per worker lane (then one per upload
 * slot), one rect per node (`rect.node[data-node]`, `.critical` on the
 * critical path), one per upload (`rect.upload[data-upload]`), and dashed
 * lines at the fastest possible end (the lower bound) and at the end of the run.
 */
export function timelineSvg(m: ReportModel): string {
  const nodes = timedNodes(m.nodes);
  const uploads = nodes.flatMap((n) => n.spans.filter((s) => s.kind === 'upload').map((s) => ({ node: n.node, ...s, lane: s.lane ?? 0 })));
  const workerLanes = Math.max(m.run.workers, ...nodes.map((n) => n.lane + 1));
  const uploadLanes = [...new Set(uploads.map((u) => u.lane))].sort((a, b) => a - b);
  const end = Math.max(m.run.durationMs, m.bound.lowerBoundMs, ...nodes.map((n) => n.startMs + n.durationMs), ...uploads.map((u) => u.startMs + u.durationMs));
  const axis = ticks(end, 10);
  const scale = PLOT_W / axis[axis.length - 1]!;
  const x = (ms: number) => LABEL_W + ms * scale;
  const rows = workerLanes + uploadLanes.length;
  const height = AXIS_H + rows * ROW_H + 8;
  const width = LABEL_W + PLOT_W + 20;
  const rowY = (row: number) => AXIS_H + row * ROW_H;

  const out = [svgOpen('timeline', width, height, `timeline of run ${m.run.id}`)];
  for (let row = 0; row < rows; row++) {
    const label = row < workerLanes ? `worker ${row + 1}` : `upload ${uploadLanes[row - workerLanes]! + 1}`;
    out.push(
      `<rect class="lane${row % 2 ? ' odd' : ''}" x="${LABEL_W}" y="${rowY(row)}" width="${PLOT_W}" height="${ROW_H}"/>`,
      `<text class="lane-label" x="${LABEL_W - 8}" y="${rowY(row) + ROW_H / 2 + 4}" text-anchor="end">${label}</text>`,
    );
  }
  for (const t of axis) {
    out.push(
      `<line class="grid" x1="${px(x(t))}" x2="${px(x(t))}" y1="${AXIS_H - 4}" y2="${rowY(rows)}"/>`,
      `<text class="tick" x="${px(x(t))}" y="${AXIS_H - 8}" text-anchor="middle">${tickLabel(t)}</text>`,
    );
  }
  /** A bar on a row from startMs for durationMs (at least 1 px wide), with a tooltip and the name inside when it fits. */
  const bar = (row: number, startMs: number, durationMs: number, attrs: string, tip: string, name: string) => {
    const w = Math.max(1, durationMs * scale);
    const y = rowY(row) + (ROW_H - BAR_H) / 2;
    out.push(`<rect ${attrs} x="${px(x(startMs))}" y="${px(y)}" width="${px(w)}" height="${BAR_H}" rx="2"><title>${esc(tip)}</title></rect>`);
    const label = fit(name, w - 6);
    if (label) out.push(`<text class="node-label" x="${px(x(startMs) + 3)}" y="${px(y + BAR_H / 2 + 4)}">${esc(label)}</text>`);
  };
  for (const n of nodes) {
    const critical = m.critical.has(n.node);
    const phases = n.spans.filter((s) => s.kind !== 'upload').map((s) => `${s.kind} ${formatMs(s.durationMs)}`);
    const tip = [
      `${n.node} (${n.rule}): ${formatStatus(n)}, ${formatMs(n.durationMs)}`,
      `started at ${formatMs(n.startMs)} on worker ${n.lane + 1}${n.bytes > 0 ? `, ${formatBytes(n.bytes)}` : ''}`,
      ...(phases.length > 0 ? [phases.join(', ')] : []),
      ...(critical ? ['on the critical path'] : []),
      ...(n.error ? [n.error.split('\n')[0]!] : []),
    ].join('\n');
    bar(n.lane, n.startMs, n.durationMs, `class="node ${n.status}${critical ? ' critical' : ''}" data-node="${esc(n.node)}"`, tip, n.node);
  }
  for (const u of uploads) {
    const tip = `upload of ${u.node}: ${formatMs(u.durationMs)}, started at ${formatMs(u.startMs)}`;
    bar(workerLanes + uploadLanes.indexOf(u.lane), u.startMs, u.durationMs, `class="upload" data-upload="${esc(u.node)}"`, tip, u.node);
  }
  const marker = (cls: string, ms: number, text: string) =>
    `<line class="${cls}" x1="${px(x(ms))}" x2="${px(x(ms))}" y1="${AXIS_H - 4}" y2="${rowY(rows)}"><title>${esc(text)}</title></line>`;
  out.push(
    marker('bound', m.bound.lowerBoundMs, `fastest possible ${formatMs(m.bound.lowerBoundMs)}`),
    marker('run-end', m.run.durationMs, `run ended at ${formatMs(m.run.durationMs)}`),
    '</svg>',
  );
  return out.join('\n');
}

/** The name, shortened with an ellipsis to fit `width` px, or nothing when not even a few letters fit. */
function fit(name: string, width: number): string | undefined {
  const chars = Math.floor(width / CHAR_W);
  if (chars >= name.length) return name;
  return chars >= 4 ? `${name.slice(0, chars - 1)}…` : undefined;
}
