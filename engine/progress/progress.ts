import type { BuildEvent, Reporter } from '../pipeline/events.js';
import type { SchedulePlan } from '../graph/schedule.js';
import type { NodeSummary } from '../pipeline/summary.js';
import { Eta } from './eta.js';
import { formatMs, formatSeconds } from '../report/format.js';

export type LogMode = 'full' | 'failed' | 'none';

/** Where progress goes: process.stdout (a terminal or a pipe), or a test's fake. */
export interface ProgressOut {
  write(text: string): unknown;
  columns?: number;
}

export interface ProgressOptions {
  /** Live status line (a TTY outside CI) or plain lines. */
  live: boolean;
  logs: LogMode;
  out: ProgressOut;
  /** Plain mode: at most one "[done/total] ... eta" line per interval (default 10 s; KILN_PROGRESS_INTERVAL seconds). */
  intervalMs?: number;
  /** Monotonic milliseconds (tests pass their own). */
  clock?: () => number;
}

/** Live mode redraws at most this often on events, and ticks this often so elapsed times move. */
const LIVE_REDRAW_MS = 100;
const LIVE_TICK_MS = 500;
const BAR_WIDTH = 20;
const DEFAULT_INTERVAL_MS = 10_000;

/** The plain-mode interval from KILN_PROGRESS_INTERVAL (seconds), when it is a positive number. */
export function intervalFromEnv(env: NodeJS.ProcessEnv): number | undefined {
  const s = Number(env.KILN_PROGRESS_INTERVAL);
  return env.KILN_PROGRESS_INTERVAL && s > 0 ? s * 1000 : undefined;
}

/**
 * Renders build events. Live mode keeps one status line at the bottom (a
 * bar with done/total, an ETA from recorded durations, counts, the running
 * nodes with their elapsed time) and prints finished nodes above it. Plain
 * mode, for CI logs and pipes, prints one line per settled node and, while
 * the build runs, a "[done/total] ... eta" line now and then.
 */
export function createProgress({ live, logs, out: stream, intervalMs = DEFAULT_INTERVAL_MS, clock = () => performance.now() }: ProgressOptions): Reporter {
  const out = batched(stream);
  let total = 0;
  let done = 0;
  const counts = { built: 0, cached: 0, failed: 0, skipped: 0 };
  /** Running nodes by start time; a Map keeps them oldest (longest running) first. */
  const running = new Map<string, number>();
  let statusShown = false;
  let lastDraw = -Infinity;
  let lastPlainLine = 0;
  let timer: NodeJS.Timeout | undefined;

  // The estimator is built on first use, so a build that ends before anyone looks at an ETA
  // (a CI no-op) never pays for it; nodes that settled before then are replayed into it.
  let plan: SchedulePlan | undefined;
  let workers = 1;
  let eta: Eta | undefined;
  let etaReady = false;
  const settledEarly: [string, number][] = [];
  const estimator = (): Eta | undefined => {
    if (!etaReady && plan) {
      etaReady = true;
      eta = Eta.create(plan, workers);
      for (const [id, ms] of settledEarly) eta?.settle(id, ms);
      settledEarly.length = 0;
    }
    return eta;
  };

  const etaText = (now: number): string => {
    const e = estimator();
    if (!e) return '';
    const ms = e.remainingMs([...running].map(([id, start]) => [id, now - start] as [string, number]));
    // Whole seconds, rounded up: "eta 0s" while nodes still run reads as a bug.
    return ` eta ${formatSeconds(Math.max(1, Math.ceil(ms / 1000)) * 1000)}`;
  };
  const runningText = (now: number, max: number, separator: string): string => {
    const shown = [...running].slice(0, max).map(([id, start]) => `${id}${separator}${elapsed(now - start)}`);
    return shown.join(', ') + (running.size > max ? `, +${running.size - max}` : '');
  };

  const clearStatus = () => {
    if (statusShown) out.now('\r\x1b[2K');
    statusShown = false;
  };
  const drawStatus = (force = true) => {
    if (!live) return;
    const now = clock();
    if (!force && now - lastDraw < LIVE_REDRAW_MS) return;
    lastDraw = now;
    const fill = total === 0 ? BAR_WIDTH : Math.round((done / total) * BAR_WIDTH);
    const bar = `${'█'.repeat(fill)}${'░'.repeat(BAR_WIDTH - fill)}`;
    const pct = total === 0 ? 100 : Math.floor((done / total) * 100);
    const line =
      `[${bar}] ${done}/${total} ${pct}%${etaText(now)} | ${counts.cached} cached, ${counts.built} built, ${counts.failed} failed` +
      (running.size ? ` | ${runningText(now, 3, ' ')}` : '');
    out.now(`\r\x1b[2K${line.slice(0, (stream.columns || 120) - 1)}`);
    statusShown = true;
  };
  const print = (text: string) => {
    clearStatus();
    out.write(text.endsWith('\n') ? text : `${text}\n`);
    drawStatus();
  };
  /** Plain mode: the occasional progress line, due once an interval has passed since the last. */
  const plainProgress = () => {
    const now = clock();
    if (live || done === total || now - lastPlainLine < intervalMs) return;
    lastPlainLine = now;
    const pct = total === 0 ? 100 : Math.floor((done / total) * 100);
    const names = running.size ? `; running: ${runningText(now, 5, ' for ')}` : '';
    out.now(`[${done}/${total}] ${pct}%${etaText(now)}${names}\n`);
  };

  return (e: BuildEvent) => {
    switch (e.type) {
      case 'start':
        total = e.total;
        plan = e.plan;
        workers = e.workers;
        lastPlainLine = clock();
        timer = setInterval(live ? () => drawStatus() : plainProgress, live ? LIVE_TICK_MS : intervalMs);
        timer.unref();
        drawStatus();
        break;
      case 'node-start':
        running.set(e.id, clock());
        drawStatus(false);
        break;
      case 'node-done': {
        running.delete(e.node.id);
        done++;
        counts[e.node.status]++;
        if (etaReady) eta?.settle(e.node.id, e.node.durationMs);
        else settledEarly.push([e.node.id, e.node.durationMs]);
        const showNode = !live || e.node.status !== 'cached';
        if (showNode && !(e.node.status === 'skipped' && e.node.error === 'not selected')) print(nodeLine(e.node, done, total));
        const showLog = logs === 'full' || (logs === 'failed' && e.node.status === 'failed');
        if (e.log && showLog) print(prefixLog(e.node.id, e.log, e.replayed));
        drawStatus(false);
        plainProgress();
        break;
      }
      case 'warning':
        print(`kiln: warning: ${e.message}`);
        break;
      case 'end': {
        clearInterval(timer);
        clearStatus();
        const n = e.summary.nodes.filter((x) => x.error !== 'not selected');
        const c = (s: NodeSummary['status']) => n.filter((x) => x.status === s).length;
        const verb = e.summary.dryRun ? 'dry run' : 'done';
        // A dry run's nodes that would run are rows `skipped` with a reason; the line counts them as what they are.
        const wouldRun = e.summary.dryRun ? n.filter((x) => x.status === 'skipped' && x.error?.startsWith('would run')).length : 0;
        const counts = `${c('built')} built, ${c('cached')} cached, ${c('failed')} failed, ${e.summary.dryRun ? `${wouldRun} would run, ` : ''}${c('skipped') - wouldRun} skipped`;
        out.write(`kiln: ${verb}: ${n.length} nodes, ${counts} in ${(e.summary.durationMs / 1000).toFixed(2)}s\n`);
        for (const f of n.filter((x) => x.status === 'failed')) out.write(`kiln: FAILED ${f.id}: ${f.error}\n`);
        out.flush();
        break;
      }
    }
  };
}

/** A running node's time so far: tenths while short, then minutes. */
function elapsed(ms: number): string {
  return ms < 60_000 ? `${(ms / 1000).toFixed(1)}s` : formatSeconds(ms);
}

function nodeLine(n: NodeSummary, done: number, total: number): string {
  const detail =
    n.status === 'cached'
      ? n.upToDate
        ? '(up to date)'
        : `(restored: ${n.cache})`
      : n.status === 'built'
        ? `(${formatMs(n.durationMs)})`
        : n.error
          ? `: ${n.error}`
          : '';
  const notes = (n.notes ?? []).map((note) => `\n    ${note}`).join('');
  // A dry run's "skipped: would run: ..." reads as what it means.
  const wouldRun = n.status === 'skipped' && n.error?.startsWith('would run: ');
  if (wouldRun) return `[${done}/${total}] would run ${n.id}: ${n.error!.slice('would run: '.length)}`.trimEnd() + notes;
  return `[${done}/${total}] ${n.status.padEnd(7)} ${n.id} ${detail}`.trimEnd() + notes;
}

function prefixLog(id: string, log: Buffer, replayed: boolean): string {
  const lines = log.toString('utf8').replace(/\n$/, '').split('\n');
  const tag = replayed ? `${id} (cached)` : id;
  return lines.map((l) => `${tag} | ${l}`).join('\n');
}

/**
 * Node lines collected and passed on once the current turn of the event
 * loop ends: the up-to-date nodes of a no-op settle in one synchronous pass,
 * and a thousand lines then cost one write to a pipe, not a thousand.
 */
function batched(stream: ProgressOut): { write(text: string): void; now(text: string): void; flush(): void } {
  let pending = '';
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending === '') return;
    const text = pending;
    pending = '';
    stream.write(text);
  };
  return {
    write: (text) => {
      pending += text;
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    /** Status lines go out at once, after what was collected before them. */
    now: (text) => {
      flush();
      stream.write(text);
    },
    flush,
  };
}
