// Summarizes a V8 .cpuprofile (from `node --cpu-prof`) as the top self-time
// functions, the files they live in, and inclusive times: enough to see a hot
// spot without opening DevTools.
//   node dist/bench/profile.js FILE.cpuprofile [--top 25]
import fs from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  /** µs since the previous sample; sample i's time is attributed to samples[i]. */
  timeDeltas: number[];
}

/** Self time in ms per key, largest first. */
function selfTimes(p: CpuProfile, keyOf: (n: ProfileNode) => string): [string, number][] {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, number>();
  p.samples.forEach((id, i) => {
    const key = keyOf(byId.get(id)!);
    totals.set(key, (totals.get(key) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  });
  return [...totals].sort((a, b) => b[1] - a[1]);
}

/**
 * Inclusive (self + callees) time in ms per function, largest first: shows
 * which kiln function a library's or a builtin's time is spent under. A
 * function recursing is counted once per sample.
 */
function totalTimes(p: CpuProfile): [string, number][] {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const totals = new Map<string, number>();
  p.samples.forEach((id, i) => {
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) seen.add(functionOf(byId.get(at)!));
    for (const key of seen) totals.set(key, (totals.get(key) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  });
  return [...totals].sort((a, b) => b[1] - a[1]);
}

/** node_modules/<package> or the file itself: where the time goes, by owner. */
function fileOf(n: ProfileNode): string {
  const url = n.callFrame.url;
  if (!url) return `(${n.callFrame.functionName || 'native'})`;
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  return m ? `npm:${m[1]}` : url.replace(/^file:\/\//, '');
}

function functionOf(n: ProfileNode): string {
  const f = n.callFrame;
  return `${f.functionName || '(anonymous)'}  ${fileOf(n)}${f.url ? `:${f.lineNumber + 1}` : ''}`;
}

function table(title: string, rows: [string, number][], total: number, top: number): string {
  return [
    title,
    ...rows.slice(0, top).map(([k, ms]) => `${ms.toFixed(1).padStart(8)} ms ${((100 * ms) / total).toFixed(1).padStart(5)}%  ${k}`),
  ].join('\n');
}

function main(argv: string[]): number {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
  if (positionals.length !== 1) {
    process.stderr.write('usage: node dist/bench/profile.js FILE.cpuprofile [--top N]\n');
    return 2;
  }
  const p = JSON.parse(fs.readFileSync(positionals[0]!, 'utf8')) as CpuProfile;
  const top = Number(values.top);
  const total = (p.endTime - p.startTime) / 1000;
  process.stdout.write(
    [
      `profile: ${total.toFixed(0)} ms, ${p.samples.length} samples`,
      '',
      table('self time by function:', selfTimes(p, functionOf), total, top),
      '',
      table('self time by file / package:', selfTimes(p, fileOf), total, top),
      '',
      table('total (inclusive) time by function:', totalTimes(p), total, top),
    ].join('\n') + '\n',
  );
  return 0;
}

process.exitCode = main(process.argv.slice(2));
