import type Database from 'better-sqlite3';
import { loadNodeRuns, type NodeRunRecord, type RunRecord } from '../state/run-record.js';
import { maxOf, minOf } from '../arrays.js';

/**
 * Chrome trace-event JSON (the format Perfetto and chrome://tracing open) of
 * one recorded run: one thread per worker lane holding each node as a span
 * with its phases (fetch, restore, run, store) nested inside, and one thread
 * per upload slot, since uploads run after the worker moved on.
 */

/** A complete event (`X`, times in µs) or a metadata event (`M`) naming a process or thread. */
export interface TraceEvent {
  name: string;
  ph: 'X' | 'M';
  pid: number;
  tid: number;
  cat?: string;
  ts?: number;
  dur?: number;
  args?: Record<string, unknown>;
}

export interface ChromeTrace {
  traceEvents: TraceEvent[];
  displayTimeUnit: 'ms';
  otherData: { kiln: { run: number; command: string; args: string[]; startedAt: string; workers: number; exitCode: number } };
}

const PID = 1;
/** Upload slots get thread ids above any worker's, so viewers sort them below the workers. */
export const UPLOAD_TID_BASE = 1000;

const us = (ms: number) => Math.round(ms * 1000);

export function chromeTrace(run: RunRecord, nodes: NodeRunRecord[]): ChromeTrace {
  const spans: TraceEvent[] = [];
  const lanes = new Map<number, string>();
  for (const n of nodes) {
    // Nodes skipped before they started (after a failure) have no time and no lane.
    if (n.startMs === null || n.lane === null) continue;
    lanes.set(n.lane, `worker ${n.lane}`);
    const own = n.spans.filter((s) => s.lane === undefined);
    // The node's duration ends when its result was known; storing outputs comes after it. The
    // node span covers its phases so that viewers nest them (times are rounded to 0.1 ms).
    const start = Math.min(n.startMs, ...own.map((s) => s.startMs));
    const end = Math.max(n.startMs + n.durationMs, ...own.map((s) => s.startMs + s.durationMs));
    spans.push({
      name: n.node,
      cat: n.status,
      ph: 'X',
      pid: PID,
      tid: n.lane,
      ts: us(start),
      dur: us(end) - us(start),
      args: { status: n.status, cache: n.cache, key: n.key, bytes: n.bytes, rule: n.rule, ...(n.error ? { error: n.error } : {}) },
    });
    for (const s of n.spans) {
      const upload = s.lane !== undefined;
      if (upload) lanes.set(UPLOAD_TID_BASE + s.lane!, `upload ${s.lane}`);
      spans.push({
        name: upload ? `upload ${n.node}` : s.kind,
        cat: s.kind,
        ph: 'X',
        pid: PID,
        tid: upload ? UPLOAD_TID_BASE + s.lane! : n.lane,
        ts: us(s.startMs),
        dur: us(s.durationMs),
        args: { node: n.node },
      });
    }
  }
  // Per thread by start, a parent before the children that start with it.
  spans.sort((a, b) => a.tid - b.tid || a.ts! - b.ts! || b.dur! - a.dur!);
  const meta: TraceEvent[] = [
    { name: 'process_name', ph: 'M', pid: PID, tid: 0, args: { name: `kiln ${run.args.join(' ') || run.command} (run ${run.id})` } },
    ...[...lanes].sort(([a], [b]) => a - b).flatMap(([tid, name]): TraceEvent[] => [
      { name: 'thread_name', ph: 'M', pid: PID, tid, args: { name } },
      { name: 'thread_sort_index', ph: 'M', pid: PID, tid, args: { sort_index: tid } },
    ]),
  ];
  return {
    traceEvents: [...meta, ...spans],
    displayTimeUnit: 'ms',
    otherData: {
      kiln: {
        run: run.id,
        command: run.command,
        args: run.args,
        startedAt: new Date(run.startedAt).toISOString(),
        workers: run.workers,
        exitCode: run.exitCode,
      },
    },
  };
}

/** A recorded run's trace. */
export function traceOfRun(db: Database.Database, run: RunRecord): ChromeTrace {
  return chromeTrace(run, loadNodeRuns(db, run.id));
}

/** One event per line: large traces stay greppable and diffable, and still parse as one JSON document. */
export function formatTrace(trace: ChromeTrace): string {
  const { traceEvents, ...rest } = trace;
  const tail = JSON.stringify(rest).slice(1);
  return `{"traceEvents":[\n${traceEvents.map((e) => JSON.stringify(e)).join(',\n')}\n],${tail}\n`;
}

/**
 * The traces of the agents of one shared build as one: each agent a
 * process of its own (named after it), on one clock (each trace's times are
 * from its own run's start, moved by how much later than the first agent's
 * it started). Nodes a waiting agent restored show as restores on its rows.
 */
export function mergeTraces(traces: readonly { agent: string; trace: ChromeTrace }[]): ChromeTrace {
  const sorted = [...traces].sort((a, b) => a.agent.localeCompare(b.agent));
  const origin = minOf(sorted.map((t) => Date.parse(t.trace.otherData.kiln.startedAt)));
  const events: TraceEvent[] = [];
  sorted.forEach(({ agent, trace }, i) => {
    const pid = i + 1;
    const shift = us(Date.parse(trace.otherData.kiln.startedAt) - origin);
    for (const e of trace.traceEvents) {
      if (e.ph === 'M' && e.name === 'process_name') events.push({ ...e, pid, args: { name: `${agent}: ${String(e.args?.name ?? '')}` } });
      else events.push({ ...e, pid, ...(e.ts !== undefined ? { ts: e.ts + shift } : {}) });
    }
    events.push({ name: 'process_sort_index', ph: 'M', pid, tid: 0, args: { sort_index: pid } });
  });
  const first = sorted[0]!.trace.otherData.kiln;
  return {
    traceEvents: events,
    displayTimeUnit: 'ms',
    otherData: { kiln: { ...first, startedAt: new Date(origin).toISOString(), exitCode: maxOf(sorted.map((t) => t.trace.otherData.kiln.exitCode)) } },
  };
}
