// Several agents building one graph (issue 19): a generated graph of
// I/O-bound nodes (each sleeps), built by 1, 2 and 4 kiln agents at once
// (`--cobuild`, each in its own checkout with its own local cache) against a
// real redis-server and `kiln cache serve` on 127.0.0.1. Prints the wall
// time of each and the speed-up over one agent, and checks that every
// agent's outputs equal a one-agent build's.
//   usage: node dist/bench/cobuild.js [--width N] [--sleep-ms N] [--jobs N] [--runs N]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { start } from '../engine/proc.js';
import { positiveInt } from './generate.js';
import { kilnEnv, KILN_MAIN } from './kiln.js';
import { startKilnServer, startRedis } from './servers.js';

const { values } = parseArgs({ options: { width: { type: 'string' }, 'sleep-ms': { type: 'string' }, jobs: { type: 'string' }, runs: { type: 'string' } } });
const WIDTH = positiveInt('--width', values.width ?? '32');
const SLEEP_MS = positiveInt('--sleep-ms', values['sleep-ms'] ?? '1000');
const JOBS = positiveInt('--jobs', values.jobs ?? '2');
const RUNS = positiveInt('--runs', values.runs ?? '3');
const AGENTS = [1, 2, 4];

/** WIDTH roots, WIDTH nodes over two roots each, one node over all of those: every node sleeps, then writes what it read. */
function buildFile(): string {
  const node = (id: string, deps: string[]) =>
    `  ${id}:\n    rule: run\n    deps: [${deps.join(', ')}]\n    env: [SALT]\n    outputs: [out/${id}.txt]\n    cmd: 'sleep ${SLEEP_MS / 1000}; mkdir -p out; { echo ${id}; ${deps.map((d) => `cat out/${d}.txt; `).join('')}} > out/${id}.txt'\n`;
  const roots = Array.from({ length: WIDTH }, (_, i) => `r${i}`);
  const mids = roots.map((_, i) => `m${i}`);
  return `nodes:\n${[...roots.map((r) => node(r, [])), ...mids.map((m, i) => node(m, [roots[i]!, roots[(i + 1) % WIDTH]!])), node('all', mids)].join('')}`;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-bench-cobuild-'));
const [cache, redis] = await Promise.all([startKilnServer({ KILN_SERVE_TOKENS: 'bench' }), startRedis()]);
try {
  const file = buildFile();
  const walls = new Map<number, number[]>();
  let oneAgent: string | undefined;
  for (let run = 0; run < RUNS; run++) {
    for (const agents of AGENTS) {
      // A salt per build: every build starts from nothing in both caches.
      const salt = `${run}-${agents}-${Date.now()}`;
      const dirs = Array.from({ length: agents }, (_, i) => {
        const dir = path.join(scratch, `${salt}-agent${i}`);
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, 'kiln.yaml'), file);
        return dir;
      });
      process.stderr.write(`[cobuild] run ${run + 1}/${RUNS}: ${agents} agent(s)\n`);
      const t0 = performance.now();
      const results = await Promise.all(
        dirs.map((dir) =>
          start(process.execPath, [KILN_MAIN, 'build', '--logs', 'none', '-j', String(JOBS), '--cobuild', salt], {
            cwd: dir,
            env: { ...kilnEnv(), KILN_DAEMON: '0', SALT: salt, KILN_CACHE_DIR: path.join(dir, '.cache'), KILN_REMOTE_CACHE: cache.url, KILN_REMOTE_TOKEN: 'bench', KILN_REDIS_URL: redis.url, KILN_AGENT: path.basename(dir) },
          }).done,
        ),
      );
      walls.set(agents, [...(walls.get(agents) ?? []), performance.now() - t0]);
      for (const r of results) if (r.code !== 0) throw new Error(`an agent exited ${r.code}:\n${r.stderr}${r.stdout}`);
      // Every agent ends with the bytes a one-agent build makes (the salt keys each build apart, it is not in the outputs).
      for (const dir of dirs) {
        const got = fs.readFileSync(path.join(dir, 'out', 'all.txt'), 'utf8');
        oneAgent ??= got;
        if (got !== oneAgent) throw new Error(`${dir}: out/all.txt differs from a one-agent build's`);
      }
    }
  }
  const one = median(walls.get(1)!);
  const lines = [
    `cobuild: ${2 * WIDTH + 1} nodes (width ${WIDTH}, 3 levels), each sleeping ${SLEEP_MS} ms; -j ${JOBS} per agent; ${RUNS} runs, medians; all agents on this ${os.availableParallelism()}-cpu machine`,
    '',
    'agents   wall ms   speed-up over 1 agent',
    ...AGENTS.map((a) => `${String(a).padStart(6)}   ${String(Math.round(median(walls.get(a)!))).padStart(7)}   ${(one / median(walls.get(a)!)).toFixed(2)}x`),
    '',
    'every agent of every build ended with the out/all.txt of a one-agent build',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await Promise.all([cache.stop(), redis.stop()]);
  fs.rmSync(scratch, { recursive: true, force: true });
}
