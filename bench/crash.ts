// Crash-safety soak: kill -9 kiln at random moments, mess with the workspace
// between runs, and check after every kill that the shared cache holds no
// corrupt blob or broken entry, and at the end that a build still succeeds
// with the same bytes as a clean build of the same sources.
//   node dist/bench/crash.js [--iterations 100] [--nodes 100] [--files 5]
//                            [--sleep-ms 30] [--max-delay-ms 1500] [--seed 1] [--keep]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { generateWorkspace, type GeneratedWorkspace } from './generate.js';
import { build, checkedSummary, expectStatuses, kiln, requireKiln, startBuild, type BuildTarget } from './kiln.js';
import { copySources, editSource, readOutputs, removeOutputs, removeState } from './mutate.js';
import { waitForOrphans } from './orphans.js';
import { mulberry32, randInt } from './prng.js';
import { killHard, outputTail } from '../engine/proc.js';

/** Chances, per iteration after the kill, of each disturbance (cumulative thresholds on one draw). */
const EDIT_SOURCE = 0.3;
const DELETE_OUTPUTS = 0.45;
const DELETE_STATE = 0.55;
const DELETE_BOTH = 0.6;

interface Tally {
  iterations: number;
  kills: number;
  completed: number;
  orphanedIterations: number;
  edits: number;
  outputDeletes: number;
  stateDeletes: number;
  /** Builds that ended on their own without success: after a crash, kiln must recover, not fail. */
  buildFailures: string[];
  verifyFailures: string[];
}

function parseOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      iterations: { type: 'string', default: '100' },
      nodes: { type: 'string', default: '100' },
      files: { type: 'string', default: '5' },
      'sleep-ms': { type: 'string', default: '30' },
      'max-delay-ms': { type: 'string', default: '1500' },
      seed: { type: 'string', default: '1' },
      keep: { type: 'boolean', default: false },
    },
  });
  const num = (name: string, raw: string) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} expects a non-negative integer, got '${raw}'`);
    return n;
  };
  return {
    iterations: num('iterations', values.iterations),
    nodes: Math.max(1, num('nodes', values.nodes)),
    files: Math.max(1, num('files', values.files)),
    sleepMs: num('sleep-ms', values['sleep-ms']),
    maxDelayMs: num('max-delay-ms', values['max-delay-ms']),
    seed: num('seed', values.seed),
    keep: values.keep,
  };
}

async function main(argv: string[]): Promise<number> {
  const opts = parseOptions(argv);
  requireKiln();
  const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-crash-')));
  const rand = mulberry32(opts.seed);
  const ws = generateWorkspace(path.join(tmp, 'ws'), { nodes: opts.nodes, files: opts.files, seed: opts.seed, sleepMs: opts.sleepMs });
  const target: BuildTarget = { dir: ws.dir, cacheDir: path.join(tmp, 'cache'), summaryFile: path.join(tmp, 'summary.json') };
  const tally: Tally = {
    iterations: 0, kills: 0, completed: 0, orphanedIterations: 0, edits: 0, outputDeletes: 0, stateDeletes: 0,
    buildFailures: [], verifyFailures: [],
  };
  const ids = ws.nodes.map((n) => n.id);
  let correct = false;
  try {
    for (let i = 0; i < opts.iterations; i++) {
      await crashOnce(i, ws, target, ids, Math.round(rand() * opts.maxDelayMs), tally);
      disturb(i, ws, rand, tally);
      const verify = await kiln(['cache', 'verify', '--cache-dir', target.cacheDir]);
      if (verify.code !== 0) tally.verifyFailures.push(`iteration ${i}: exit ${verify.code ?? verify.signal}\n${outputTail(verify)}`);
      tally.iterations++;
      if ((i + 1) % 10 === 0) {
        process.stderr.write(
          `[crash] ${i + 1}/${opts.iterations}: ${tally.kills} kills, ${tally.completed} completed, ` +
            `${tally.buildFailures.length} build failures, ${tally.verifyFailures.length} verify failures\n`,
        );
      }
    }
    correct = await finalCheck(ws, target, ids, tmp);
  } finally {
    if (opts.keep) process.stderr.write(`[crash] kept ${tmp}\n`);
    else fs.rmSync(tmp, { recursive: true, force: true });
  }

  const lines = [
    `iterations:           ${tally.iterations}`,
    `kills:                ${tally.kills}`,
    `builds completed:     ${tally.completed} (finished before the kill)`,
    `left node commands:   ${tally.orphanedIterations} iterations (waited for before continuing)`,
    `disturbances:         ${tally.edits} source edits, ${tally.outputDeletes} output deletes, ${tally.stateDeletes} .kiln deletes`,
    `build failures:       ${tally.buildFailures.length}`,
    `verify failures:      ${tally.verifyFailures.length}`,
    `final correctness:    ${correct ? 'OK (final build = clean build, byte for byte)' : 'FAILED'}`,
  ];
  for (const f of [...tally.buildFailures, ...tally.verifyFailures].slice(0, 5)) lines.push('', f);
  process.stdout.write(`${lines.join('\n')}\n`);
  return correct && tally.buildFailures.length === 0 && tally.verifyFailures.length === 0 ? 0 : 1;
}

/** One kiln build, SIGKILLed with its process group after `delayMs` unless it finished first. */
async function crashOnce(i: number, ws: GeneratedWorkspace, target: BuildTarget, ids: string[], delayMs: number, tally: Tally): Promise<void> {
  const started = startBuild(target);
  const finished = await Promise.race([started.done.then(() => true), sleep(delayMs, false, { ref: false })]);
  const killed = !finished && killHard(started.child, true);
  const proc = await started.done;
  if (killed) tally.kills++;
  else {
    tally.completed++;
    try {
      expectStatuses(`iteration ${i}`, checkedSummary(proc, target.summaryFile, `iteration ${i}`), ids, 'any');
    } catch (e) {
      tally.buildFailures.push((e as Error).message);
    }
  }
  if ((await waitForOrphans(ws.dir, 10_000)) > 0) tally.orphanedIterations++;
}

/** Between runs, like a developer would: edit a source, delete outputs, wipe kiln's state. */
function disturb(i: number, ws: GeneratedWorkspace, rand: () => number, tally: Tally): void {
  const x = rand();
  if (x < EDIT_SOURCE) {
    editSource(ws, ws.nodes[randInt(rand, ws.nodes.length)]!.id, `crash iteration ${i}`, randInt(rand, ws.files));
    tally.edits++;
    return;
  }
  if (x < DELETE_OUTPUTS || (x >= DELETE_STATE && x < DELETE_BOTH)) {
    removeOutputs(ws);
    tally.outputDeletes++;
  }
  if (x >= DELETE_OUTPUTS && x < DELETE_BOTH) {
    removeState(ws);
    tally.stateDeletes++;
  }
}

/**
 * A full build on the crashed workspace and cache must succeed, leave the
 * cache clean, and produce exactly what a clean build of the same sources
 * produces from an empty cache.
 */
async function finalCheck(ws: GeneratedWorkspace, target: BuildTarget, ids: string[], tmp: string): Promise<boolean> {
  const after = await build(target, 'final build');
  expectStatuses('final build', after.summary, ids, 'any');
  const verify = await kiln(['cache', 'verify', '--cache-dir', target.cacheDir]);
  if (verify.code !== 0) throw new Error(`cache verify after the final build: exit ${verify.code}\n${outputTail(verify)}`);

  const clean = copySources(ws, path.join(tmp, 'clean'));
  const cleanTarget: BuildTarget = { dir: clean.dir, cacheDir: path.join(tmp, 'clean-cache'), summaryFile: path.join(tmp, 'clean-summary.json') };
  const reference = await build(cleanTarget, 'clean build');
  expectStatuses('clean build', reference.summary, ids, new Set(ids));

  const got = readOutputs(ws);
  const want = readOutputs(clean);
  const digests = (s: typeof after.summary) => new Map(s.nodes.map((n) => [n.id, n.outputDigest]));
  const gotDigest = digests(after.summary);
  const wantDigest = digests(reference.summary);
  const wrong = ids.filter((id) => {
    const g = got.get(id);
    const w = want.get(id);
    return !g || !w || !g.equals(w) || gotDigest.get(id) !== wantDigest.get(id);
  });
  for (const id of wrong.slice(0, 5)) process.stderr.write(`[crash] ${id}: output differs from the clean build\n`);
  return wrong.length === 0;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    process.stderr.write(`crash: ${(e as Error).message}\n`);
    process.exitCode = 1;
  },
);
