/**
 * When and where each node of one build ran: the raw material of history,
 * traces, critical paths and reports. Times are milliseconds since the
 * build started (one clock, performance.now()).
 */

/** A phase of a node worth its own span in a trace. Up-to-date checks are the node span itself. */
export type SpanKind = 'fetch' | 'restore' | 'run' | 'store' | 'upload';

export interface Span {
  kind: SpanKind;
  startMs: number;
  durationMs: number;
  /** Uploads run on their own lanes (upload slots), after the node's worker is free again. */
  lane?: number;
}

export interface NodeTiming {
  startMs: number;
  /** Worker slot (0 .. jobs-1) the node ran on. */
  lane: number;
  /** Bytes the node moved: outputs stored after a run, or restored from a cache. 0 when up to date. */
  bytes: number;
  spans: Span[];
}

const round = (ms: number) => Math.round(ms * 10) / 10;

export class Timeline {
  private readonly t0: number;
  private readonly nodes = new Map<string, NodeTiming>();

  constructor(t0 = performance.now()) {
    this.t0 = t0;
  }

  /** Milliseconds since the build started. */
  now(): number {
    return round(performance.now() - this.t0);
  }

  startNode(id: string, lane: number): void {
    this.nodes.set(id, { startMs: this.now(), lane, bytes: 0, spans: [] });
  }

  /** Records a span that began at `startMs` (from now()) and ends now. */
  span(id: string, kind: SpanKind, startMs: number, lane?: number): void {
    const t = this.nodes.get(id);
    if (!t) return;
    t.spans.push({ kind, startMs, durationMs: round(this.now() - startMs), ...(lane !== undefined ? { lane } : {}) });
  }

  /** Times `work` as a span of the node. */
  async timed<T>(id: string, kind: SpanKind, work: () => Promise<T>): Promise<T> {
    const start = this.now();
    try {
      return await work();
    } finally {
      this.span(id, kind, start);
    }
  }

  addBytes(id: string, bytes: number): void {
    const t = this.nodes.get(id);
    if (t) t.bytes += bytes;
  }

  get(id: string): NodeTiming | undefined {
    return this.nodes.get(id);
  }
}
