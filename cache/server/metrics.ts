/** Why a request was refused; each is one `reason` label value. */
export type RejectReason = 'digest_mismatch' | 'too_large' | 'unauthorized' | 'forbidden';

/** In-memory counters since start, rendered in the Prometheus text format (0.0.4). */
export class Metrics {
  private readonly requests = new Map<string, number>();
  private readonly hits = new Map<string, number>();
  private readonly misses = new Map<string, number>();
  private readonly rejected = new Map<RejectReason, number>();
  bytesReceived = 0;
  bytesSent = 0;
  evictions = 0;

  request(method: string, status: number): void {
    bump(this.requests, `method="${method}",status="${status}"`);
  }

  lookup(kind: string, hit: boolean): void {
    bump(hit ? this.hits : this.misses, kind);
  }

  reject(reason: RejectReason): void {
    bump(this.rejected, reason);
  }

  /** `store` gauges are read at scrape time, from the index. */
  render(store: { entries: number; bytes: number }): string {
    const out: string[] = [];
    const family = (name: string, type: 'counter' | 'gauge', help: string, samples: [string, number][]): void => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of samples) out.push(`${name}${labels ? `{${labels}}` : ''} ${value}`);
    };
    const labelled = (label: string, m: Map<string, number>): [string, number][] =>
      sorted(m).map(([v, n]) => [`${label}="${v}"`, n]);

    family('kiln_cache_requests_total', 'counter', 'HTTP requests answered, by method and status.', sorted(this.requests));
    family('kiln_cache_hits_total', 'counter', 'GET/HEAD of a stored artifact, by kind (ac, cas, turbo).', labelled('kind', this.hits));
    family('kiln_cache_misses_total', 'counter', 'GET/HEAD of an absent artifact, by kind.', labelled('kind', this.misses));
    family('kiln_cache_received_bytes_total', 'counter', 'Request body bytes read from clients (uploads, whether kept or not).', [['', this.bytesReceived]]);
    family('kiln_cache_sent_bytes_total', 'counter', 'Artifact bytes streamed to clients.', [['', this.bytesSent]]);
    family(
      'kiln_cache_rejected_total',
      'counter',
      'Requests refused: digest_mismatch and too_large uploads, unauthorized (no or unknown token), forbidden (read-only token writing).',
      labelled('reason', this.rejected),
    );
    family('kiln_cache_evictions_total', 'counter', 'Entries evicted to stay under --max-size.', [['', this.evictions]]);
    family('kiln_cache_entries', 'gauge', 'Artifacts currently stored.', [['', store.entries]]);
    family('kiln_cache_stored_bytes', 'gauge', 'Bytes of artifacts currently stored.', [['', store.bytes]]);
    return `${out.join('\n')}\n`;
  }
}

/** Stable output order, so two scrapes diff cleanly. */
function sorted(m: Map<string, number>): [string, number][] {
  return [...m].sort(([a], [b]) => (a < b ? -1 : 1));
}

function bump<K>(m: Map<K, number>, key: K): void {
  m.set(key, (m.get(key) ?? 0) + 1);
}
