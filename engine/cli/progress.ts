import type { BuildEvent, Reporter } from '../events.js';
import type { NodeSummary } from '../summary.js';

export type LogMode = 'full' | 'failed' | 'none';

interface ProgressOptions {
  /** Live status line (a TTY outside CI) or plain lines. */
  live: boolean;
  logs: LogMode;
  out: NodeJS.WriteStream;
}

/**
 * Renders build events. Live mode keeps one status line at the bottom
 * (done/total, cache hits, running nodes) and prints finished nodes above
 * it; plain mode prints one line per settled node, for CI logs and pipes.
 */
export function createProgress({ live, logs, out }: ProgressOptions): Reporter {
  let total = 0;
  let done = 0;
  const counts = { built: 0, cached: 0, failed: 0, skipped: 0 };
  const running = new Set<string>();
  let statusShown = false;

  const clearStatus = () => {
    if (statusShown) out.write('\r\x1b[2K');
    statusShown = false;
  };
  const drawStatus = () => {
    if (!live) return;
    const names = [...running].slice(0, 3).join(', ') + (running.size > 3 ? `, +${running.size - 3}` : '');
    const line = `[${done}/${total}] ${counts.cached} cached, ${counts.built} built, ${counts.failed} failed${running.size ? ` | running: ${names}` : ''}`;
    out.write(`\r\x1b[2K${line.slice(0, (out.columns || 120) - 1)}`);
    statusShown = true;
  };
  const print = (text: string) => {
    clearStatus();
    out.write(text.endsWith('\n') ? text : `${text}\n`);
    drawStatus();
  };

  return (e: BuildEvent) => {
    switch (e.type) {
      case 'start':
        total = e.total;
        drawStatus();
        break;
      case 'node-start':
        running.add(e.id);
        drawStatus();
        break;
      case 'node-done': {
        running.delete(e.node.id);
        done++;
        counts[e.node.status]++;
        const showNode = !live || e.node.status !== 'cached';
        if (showNode && !(e.node.status === 'skipped' && e.node.error === 'not selected')) print(nodeLine(e.node, done, total));
        const showLog = logs === 'full' || (logs === 'failed' && e.node.status === 'failed');
        if (e.log && showLog) print(prefixLog(e.node.id, e.log, e.replayed));
        drawStatus();
        break;
      }
      case 'warning':
        print(`kiln: warning: ${e.message}`);
        break;
      case 'end': {
        clearStatus();
        const n = e.summary.nodes.filter((x) => x.error !== 'not selected');
        const c = (s: NodeSummary['status']) => n.filter((x) => x.status === s).length;
        const verb = e.summary.dryRun ? 'dry run' : 'done';
        out.write(
          `kiln: ${verb}: ${n.length} nodes, ${c('built')} built, ${c('cached')} cached, ${c('failed')} failed, ${c('skipped')} skipped in ${(e.summary.durationMs / 1000).toFixed(2)}s\n`,
        );
        for (const f of n.filter((x) => x.status === 'failed')) out.write(`kiln: FAILED ${f.id}: ${f.error}\n`);
        break;
      }
    }
  };
}

function nodeLine(n: NodeSummary, done: number, total: number): string {
  const detail =
    n.status === 'cached'
      ? `(${n.cache})`
      : n.status === 'built'
        ? `(${formatMs(n.durationMs)})`
        : n.error
          ? `: ${n.error}`
          : '';
  const notes = (n.notes ?? []).map((note) => `\n    ${note}`).join('');
  return `[${done}/${total}] ${n.status.padEnd(7)} ${n.id} ${detail}`.trimEnd() + notes;
}

function prefixLog(id: string, log: Buffer, replayed: boolean): string {
  const lines = log.toString('utf8').replace(/\n$/, '').split('\n');
  const tag = replayed ? `${id} (cached)` : id;
  return lines.map((l) => `${tag} | ${l}`).join('\n');
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}
