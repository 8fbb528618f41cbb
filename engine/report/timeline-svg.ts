import { formatBytes, formatMs } from './format.js';
import type { NodeRunRecord } from '../state/run-record.js';
import type { ReportModel } from './model.js';
import { esc, px, svgOpen, tickLabel, ticks } from './svg.js';
import { formatStatus } from './text.js';
import { pushAll } from '../arrays.js';

const LABEL_W = 90;
const PLOT_W = 960;
const AXIS_H = 26;
const ROW_H = 26;
const BAR_H = 18;
/** Approximate width of a character of the 11 px label font, to decide whether a name fits its rect. */
const CHAR_W = 6.4;
/** Height of one line of the key under the lanes. */
const KEY_H = 18;
/** Space between two entries of the key. */
const KEY_GAP = 18;

/** The nodes drawn on the timeline: those that started and did something (not skipped). */
export function timedNodes(nodes: NodeRunRecord[]): (NodeRunRecord & { startMs: number; lane: number })[] {
  return nodes.filter((n): n is NodeRunRecord & { startMs: number; lane: number } => n.startMs !== null && n.lane !== null && n.status !== 'skipped');
}

/**
 * The run as a Gantt chart: one row per worker lane (then one per upload
 * slot), one rect per node (`rect.node[data-node]`, `.critical` on the
 * critical path), one per upload (`rect.upload[data-upload]`), and dashed
 * lines at the fastest possible end (the lower bound) and at the end of the run.
 * A name that does not fit its bar is never cut to a prefix that several
 * nodes share: the bar gets a number, and a key under the lanes spells it out.
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
  const width = LABEL_W + PLOT_W + 20;
  const rowY = (row: number) => AXIS_H + row * ROW_H;

  const barY = (row: number) => rowY(row) + (ROW_H - BAR_H) / 2;
  const out: string[] = [];
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
  const drawn: DrawnBar[] = [];
  /** A bar on a row from startMs for durationMs (at least 1 px wide), with a tooltip; its label comes later. */
  const bar = (row: number, startMs: number, durationMs: number, attrs: string, tip: string, name: string) => {
    const w = Math.max(1, durationMs * scale);
    out.push(`<rect ${attrs} x="${px(x(startMs))}" y="${px(barY(row))}" width="${px(w)}" height="${BAR_H}" rx="2"><title>${esc(tip)}</title></rect>`);
    drawn.push({ row, x: x(startMs), w, name });
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
  );
  const { labels, keyed } = barLabels(drawn, barY);
  pushAll(out, labels);
  const keyLines = keyLayout(keyed, PLOT_W);
  keyLines.forEach((line, i) => {
    const y = rowY(rows) + 8 + (i + 1) * KEY_H - 5;
    for (const entry of line) {
      out.push(`<text class="key-entry" x="${px(LABEL_W + entry.x)}" y="${y}">${esc(entry.text)}</text>`);
    }
  });
  const height = rowY(rows) + 8 + keyLines.length * KEY_H;
  return [svgOpen('timeline', width, height, `timeline of run ${m.run.id}`), ...out, '</svg>'].join('\n');
}

interface DrawnBar {
  row: number;
  x: number;
  w: number;
  name: string;
}

/** Width a number label needs beside its bar. */
const NUMBER_W = 16;

/**
 * Each bar's name inside it where it fits; elsewhere a number, numbered
 * row by row from left to right. Bars of a row whose numbers would touch
 * share one label ("1–4", after the last of them); a name inside a later
 * bar moves right to clear a number, or is numbered too when it no longer
 * fits. `keyed` holds the numbered names in number order.
 */
function barLabels(bars: DrawnBar[], barY: (row: number) => number): { labels: string[]; keyed: string[] } {
  const labels: string[] = [];
  const keyed: string[] = [];
  const textY = (row: number) => px(barY(row) + BAR_H / 2 + 4);
  let run: DrawnBar[] = [];
  /** Right end of the last text on the current row. */
  let cursor = -Infinity;
  const flush = () => {
    if (run.length === 0) return;
    const last = run[run.length - 1]!;
    const first = keyed.length - run.length + 1;
    const text = run.length === 1 ? String(first) : `${first}–${keyed.length}`;
    const w = text.length * CHAR_W;
    if (run.length === 1 && w <= last.w - 4) {
      labels.push(`<text class="node-label key-number" x="${px(last.x + last.w / 2)}" text-anchor="middle" y="${textY(last.row)}">${text}</text>`);
      cursor = last.x + last.w / 2 + w / 2;
    } else {
      const at = Math.max(last.x + last.w + 2, cursor + 2);
      labels.push(`<text class="node-label key-number" x="${px(at)}" y="${textY(last.row)}">${text}</text>`);
      cursor = at + w;
    }
    run = [];
  };
  const ordered = [...bars].sort((a, b) => a.row - b.row || a.x - b.x);
  ordered.forEach((b, i) => {
    if (i > 0 && ordered[i - 1]!.row !== b.row) {
      flush();
      cursor = -Infinity;
    }
    const prev = run[run.length - 1];
    const w = b.name.length * CHAR_W;
    if (w <= b.w - 6) {
      flush();
      const at = Math.max(b.x + 3, cursor + 4);
      if (at + w <= b.x + b.w - 3) {
        labels.push(`<text class="node-label" x="${px(at)}" y="${textY(b.row)}">${esc(b.name)}</text>`);
        cursor = at + w;
        return;
      }
    } else if (prev && b.x > prev.x + prev.w + NUMBER_W) {
      flush();
    }
    run.push(b);
    keyed.push(b.name);
  });
  flush();
  return { labels, keyed };
}

/** The key's entries ("3 payload"), placed left to right and wrapped into lines `width` px wide. */
function keyLayout(names: string[], width: number): { x: number; text: string }[][] {
  const lines: { x: number; text: string }[][] = [];
  let line: { x: number; text: string }[] = [];
  let used = 0;
  names.forEach((name, i) => {
    const text = `${i + 1} ${name}`;
    const w = text.length * CHAR_W;
    if (line.length > 0 && used + w > width) {
      lines.push(line);
      line = [];
      used = 0;
    }
    line.push({ x: used, text });
    used += w + KEY_GAP;
  });
  if (line.length > 0) lines.push(line);
  return lines;
}
