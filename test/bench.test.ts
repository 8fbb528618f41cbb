// `kiln bench`: real kiln build child processes in real temp workspaces, results in the real state database.
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { compareBenches, type Comparison } from '../engine/bench-command/compare.js';
import { scenarioResult, type BenchResult } from '../engine/bench-command/result.js';
import { loadRun } from '../engine/state/run-record.js';
import { kiln, KILN_MAIN, tempDir, writeFiles } from './kiln.js';
import { startKilnServer } from './servers/start.js';

// lib <- app; docs on its own. Touching src/lib.c rebuilds lib and app.
const GRAPH = `nodes:
  lib:
    rule: run
    inputs: [src/lib.c]
    outputs: [out/lib.txt]
    cmd: mkdir -p out && cp src/lib.c out/lib.txt
  app:
    rule: run
    deps: [lib]
    inputs: [src/main.c]
    outputs: [out/app.txt]
    cmd: mkdir -p out && cat out/lib.txt src/main.c > out/app.txt
  docs:
    rule: run
    inputs: [README.md]
    outputs: [out/docs.txt]
    cmd: mkdir -p out && wc -c < README.md > out/docs.txt
`;
// No trailing newline: the original bytes must come back exactly.
const LIB_C = 'int lib(void) { return 1; }';

function workspace(files: Record<string, string> = {}): { ws: string; env: Record<string, string> } {
  const ws = tempDir('kiln-bench-ws-');
  writeFiles(ws, { 'kiln.yaml': GRAPH, 'src/lib.c': LIB_C, 'src/main.c': 'int main(void) { return lib(); }\n', 'README.md': '# demo\n', ...files });
  return { ws, env: { KILN_CACHE_DIR: path.join(tempDir('kiln-bench-cache-'), 'cache') } };
}

function parse(stdout: string): BenchResult {
  return JSON.parse(stdout) as BenchResult;
}

const scenario = (r: BenchResult, name: string) => r.scenarios.find((s) => s.name === name)!;

/** Waits until no process builds the workspace (a kill -9 of kiln bench leaves its kiln build running). */
async function buildsGone(ws: string): Promise<void> {
  const building = () =>
    fs.readdirSync('/proc').some((pid) => {
      try {
        return /^\d+$/.test(pid) && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`${ws}/kiln.yaml`);
      } catch {
        return false; // exited meanwhile
      }
    });
  while (building()) await sleep(50);
}

describe('kiln bench', () => {
  it('times cold and noop builds as real kiln build processes, recorded in history', async () => {
    const { ws, env } = workspace();
    const run = await kiln(ws, ['bench', '--runs', '2', '--json', '--scenario', 'cold'], env);
    expect(run.exitCode, run.stderr).toBe(0);
    // Cold builds use throwaway caches beside the user's, deleted after each run: the user's cache is never written.
    expect(fs.readdirSync(path.dirname(env.KILN_CACHE_DIR!))).toEqual([]);
    const noop = await kiln(ws, ['bench', '--runs', '3', '--json', '--scenario', 'noop', 'app'], env);
    expect(noop.exitCode, noop.stderr).toBe(0);

    const cold = scenario(parse(run.stdout), 'cold');
    expect(cold).toMatchObject({ kind: 'cold', n: 2, targets: [] });
    expect(cold.reps.map((r) => [r.rep, r.built, r.cached])).toEqual([[1, 3, 0], [2, 3, 0]]);
    const warm = scenario(parse(noop.stdout), 'noop');
    expect(warm).toMatchObject({ kind: 'noop', n: 3, targets: ['app'] });
    expect(warm.reps.map((r) => [r.built, r.cached])).toEqual([[0, 2], [0, 2], [0, 2]]);
    for (const s of [cold, warm]) {
      const walls = s.reps.map((r) => r.wallMs).sort((a, b) => a - b);
      expect([s.minMs, s.maxMs]).toEqual([walls[0], walls[walls.length - 1]]);
      const mid = walls.length >> 1;
      expect(s.medianMs).toBeCloseTo(walls.length % 2 ? walls[mid]! : (walls[mid - 1]! + walls[mid]!) / 2, 0);
      expect(s.minMs).toBeGreaterThan(0);
    }
    expect(run.stderr).toContain('bench cold [2/2]: ');

    const db = new Database(path.join(ws, '.kiln/state.db'), { readonly: true });
    try {
      // Each timed build is a build run in history; its wall time includes startup, so it exceeds the run's own duration.
      for (const rep of [...cold.reps, ...warm.reps]) {
        const r = loadRun(db, rep.runId!)!;
        expect(r).toMatchObject({ command: 'build', exitCode: 0, built: rep.built, cached: rep.cached });
        expect(rep.wallMs).toBeGreaterThan(r.durationMs);
      }
      expect(db.prepare('SELECT count(*) FROM bench_runs').pluck().get()).toBe(2);
      expect(db.prepare('SELECT count(*) FROM bench_results').pluck().get()).toBe(5);
    } finally {
      db.close();
    }
  });

  it('touches files for incremental runs and puts their original bytes back', async () => {
    const { ws, env } = workspace();
    const run = await kiln(ws, ['bench', '--runs', '2', '--touch', 'src/lib.c', '--json', '--save', 'base'], env);
    expect(run.exitCode, run.stderr).toBe(0);
    const r = parse(run.stdout);
    expect(r.name).toBe('base');
    expect(r.scenarios.map((s) => s.name)).toEqual(['incremental']);
    // Every run changed the key again: lib and app rebuilt each time, docs stayed.
    expect(scenario(r, 'incremental').reps.map((x) => [x.built, x.cached])).toEqual([[2, 1], [2, 1]]);
    expect(fs.readFileSync(path.join(ws, 'src/lib.c'), 'utf8')).toBe(LIB_C);
    expect(fs.existsSync(path.join(ws, '.kiln/bench-touched'))).toBe(false);

    // The table, a second bench saved under the same name, and the list.
    const again = await kiln(ws, ['bench', '--runs', '1', '--scenario', 'noop', '--save', 'base'], env);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^bench 2, 'base', /);
    expect(again.stdout).toMatch(/noop +noop +1( +[\d.]+ m?s){3} +0 +3/);
    expect(again.stderr).toContain("'base' now names bench 2 (it named bench 1)");
    const list = await kiln(ws, ['bench', '--list'], env);
    const rows = list.stdout.split('\n').slice(2);
    expect(rows[0]).toMatch(/^ *2 +base +\d{4}-\d\d-\d\d [\d:]+Z +noop [\d.]+ m?s$/);
    expect(rows[1]).toMatch(/^ *1 +\d{4}-\d\d-\d\d [\d:]+Z +incremental [\d.]+ m?s$/); // no longer named
  });

  it('restores from the configured remote with an empty local cache', async () => {
    const server = await startKilnServer({ KILN_SERVE_TOKENS: 'bench-token' });
    try {
      const { ws, env } = workspace();
      const remoteEnv = { ...env, KILN_REMOTE_CACHE: server.url, KILN_REMOTE_TOKEN: 'bench-token' };
      const run = await kiln(ws, ['bench', '--scenario', 'remote', '--runs', '2', '--json'], remoteEnv);
      expect(run.exitCode, run.stderr).toBe(0);
      const remote = scenario(parse(run.stdout), 'remote');
      expect(remote.reps.map((r) => [r.built, r.cached])).toEqual([[0, 3], [0, 3]]);
      const db = new Database(path.join(ws, '.kiln/state.db'), { readonly: true });
      try {
        for (const rep of remote.reps) {
          const sources = db.prepare('SELECT DISTINCT cache FROM node_runs WHERE run_id = ?').pluck().all(rep.runId);
          expect(sources).toEqual(['remote']);
        }
      } finally {
        db.close();
      }
      // Without a remote, the scenario cannot run: a usage error naming it.
      const none = await kiln(ws, ['bench', '--scenario', 'remote'], env);
      expect(none.exitCode).toBe(2);
      expect(none.stderr).toContain("scenario 'remote' (remote) needs a remote cache");
    } finally {
      await server.stop();
    }
  });

  it('reports mistakes before running anything (exit 2), and a failing build as exit 1', async () => {
    const { ws, env } = workspace({ 'package.json': '{}\n', 'bad/kiln.yaml': 'nodes:\n  broken:\n    rule: run\n    outputs: [x]\n    cmd: exit 3\n' });
    const cases: [string[], string][] = [
      [['--scenario', 'nop'], "unknown scenario 'nop'\n  hint: did you mean 'noop'?"],
      [['--touch', 'src/missing.c'], "scenario 'incremental': cannot touch 'src/missing.c': no such file"],
      [['--touch', 'package.json'], "cannot touch 'package.json': json files have no comment syntax"],
      [['--touch', '../outside.c'], "cannot touch '../outside.c': it is outside the workspace"],
      [['--scenario', 'incremental'], "scenario 'incremental' (incremental) has no files to touch\n  hint: add --touch FILE"],
      [['--scenario', 'noop', 'nosuch'], "scenario 'noop': no node matches 'nosuch'"],
      [['--runs', '0'], '--runs expects a positive integer'],
      [['--save', '1x'], "--save '1x' is not a name"],
    ];
    for (const [args, message] of cases) {
      const r = await kiln(ws, ['bench', ...args], env);
      expect([r.exitCode, r.stderr], args.join(' ')).toEqual([2, expect.stringContaining(message)]);
    }
    const failing = await kiln(path.join(ws, 'bad'), ['bench', '-f', 'kiln.yaml', '--scenario', 'cold', '--runs', '1'], env);
    expect(failing.exitCode).toBe(1);
    expect(failing.stderr).toContain("bench: scenario 'cold' run 1: kiln build exited with 1; nothing was recorded");
    expect(failing.stderr).toContain('broken');
    const db = new Database(path.join(ws, 'bad/.kiln/state.db'), { readonly: true });
    expect(db.prepare('SELECT count(*) FROM bench_runs').pluck().get()).toBe(0);
    db.close();
  });

  it('puts touched files back when interrupted, and after a kill -9 on the next bench', async () => {
    // lib takes a second, so there is time to interrupt a timed build while src/lib.c is touched.
    const { ws, env } = workspace({ 'kiln.yaml': GRAPH.replace('cmd: mkdir -p out && cp src/lib.c', 'cmd: sleep 1 && mkdir -p out && cp src/lib.c') });
    const lib = path.join(ws, 'src/lib.c');
    const touchedBench = async (signal: NodeJS.Signals) => {
      const child = spawn(process.execPath, [KILN_MAIN, 'bench', '--touch', 'src/lib.c', '--runs', '3'], {
        cwd: ws,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, CI: 'true', ...env },
        stdio: 'ignore',
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig ? -1 : null))));
      while (!fs.readFileSync(lib, 'utf8').includes('kiln bench:')) await sleep(20);
      child.kill(signal);
      return exited;
    };

    expect(await touchedBench('SIGTERM')).toBe(143);
    expect(fs.readFileSync(lib, 'utf8')).toBe(LIB_C);

    expect(await touchedBench('SIGKILL')).toBe(-1);
    const touched = fs.readFileSync(lib, 'utf8');
    expect(touched).toMatch(/^int lib\(void\) \{ return 1; \}\n\/\/ kiln bench: .* incremental run 1\n$/);
    await buildsGone(ws); // the orphaned build finishes on its own
    const next = await kiln(ws, ['bench', '--scenario', 'noop', '--runs', '1'], env);
    expect(next.exitCode, next.stderr).toBe(0);
    expect(next.stderr).toContain('kiln: restored src/lib.c, left touched by an interrupted kiln bench');
    expect(fs.readFileSync(lib, 'utf8')).toBe(LIB_C);

    // Edited by the user after the kill: nothing is overwritten; the backup is kept and named.
    expect(await touchedBench('SIGKILL')).toBe(-1);
    fs.appendFileSync(lib, 'int mine;\n');
    await buildsGone(ws);
    const refused = await kiln(ws, ['bench', '--scenario', 'noop', '--runs', '1'], env);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('src/lib.c changed since an interrupted kiln bench touched it');
    expect(refused.stderr).toContain('its original bytes are in .kiln/bench-touched/src/lib.c');
    expect(fs.readFileSync(lib, 'utf8')).toMatch(/int mine;\n$/);
    expect(fs.readFileSync(path.join(ws, '.kiln/bench-touched/src/lib.c'), 'utf8')).toBe(LIB_C);
  });

  it('--compare exits 1 naming a scenario whose median regressed, 0 at the same speed', async () => {
    const slowGraph = (seconds: string) => `nodes:
  gen:
    rule: run
    inputs: [src/lib.c]
    outputs: [out/gen.txt]
    cmd: sleep ${seconds} && mkdir -p out && cp src/lib.c out/gen.txt
`;
    const { ws, env } = workspace({ 'kiln.yaml': slowGraph('0.05') });
    const base = await kiln(ws, ['bench', '--scenario', 'cold', '--runs', '3', '--save', 'main', '--json'], env);
    expect(base.exitCode, base.stderr).toBe(0);
    const baselineFile = path.join(tempDir('kiln-baseline-'), 'baseline.json');
    fs.writeFileSync(baselineFile, base.stdout);
    // Two shared cores under other load (load averages above 10 seen here): a wide margin for
    // "the same speed", and a slowdown (0.05 s -> 3 s) far beyond it.
    const margin = ['--threshold', '100%', '--noise-ms', '1000'];

    const same = await kiln(ws, ['bench', '--scenario', 'cold', '--runs', '3', '--compare', '1', ...margin], env);
    expect(same.exitCode, same.stdout + same.stderr).toBe(0);
    expect(same.stdout).toMatch(/compared with bench 1, 'main', .*\(regression: median over \+100% and 1000 ms\)/);
    expect(same.stdout).toMatch(/^cold +[\d.]+ m?s +[\d.]+ m?s +\d\.\d\d +(ok|faster|ok \(within noise\))$/m);

    fs.writeFileSync(path.join(ws, 'kiln.yaml'), slowGraph('3'));
    const slower = await kiln(ws, ['bench', '--scenario', 'cold', '--scenario', 'noop', '--runs', '2', '--compare', baselineFile, '--json', ...margin], env);
    expect(slower.exitCode, slower.stderr).toBe(1);
    expect(slower.stderr).toContain('kiln: bench: build time regressed beyond 100%: cold');
    expect(slower.stderr).toContain("kiln: warning: scenario 'noop' is not in the baseline: not compared");
    const { comparison } = JSON.parse(slower.stdout) as BenchResult & { comparison: Comparison };
    expect(comparison.baseline).toMatchObject({ id: 1, name: 'main' });
    expect(comparison.rows.map((r) => [r.scenario, r.verdict])).toEqual([['cold', 'regression'], ['noop', 'new']]);
    const cold = comparison.rows[0]!;
    expect(cold.nowMs - cold.baselineMs!).toBeGreaterThan(2500);
    expect(cold.ratio).toBeCloseTo(cold.nowMs / cold.baselineMs!, 1);

    for (const [ref, message] of [
      ['mian', "--compare 'mian' is no bench id, saved name or file\n  hint: did you mean 'main'?"],
      ['99', "--compare '99' is no bench id, saved name or file"],
      ['kiln.yaml', '--compare kiln.yaml: not JSON'],
    ]) {
      const r = await kiln(ws, ['bench', '--compare', ref!], env);
      expect([r.exitCode, r.stderr]).toEqual([2, expect.stringContaining(message!)]);
    }
    const bad = await kiln(ws, ['bench', '--threshold', '10'], env);
    expect([bad.exitCode, bad.stderr]).toEqual([2, expect.stringContaining("--threshold expects a percentage, got '10'")]);
  });

  it('compares medians with a threshold and a noise floor', () => {
    const bench = (cores: number, medians: Record<string, number>): BenchResult => ({
      version: 1, id: null, name: null, startedAt: new Date(0).toISOString(), durationMs: 0, kilnVersion: '0.1.0',
      host: { cores, cpuModel: 'cpu', platform: 'linux-x64', node: 'v20' }, gitCommit: null,
      scenarios: Object.entries(medians).map(([name, ms]) => scenarioResult(name, 'noop', [], [{ rep: 1, runId: null, wallMs: ms, built: 0, cached: 1 }])),
    });
    const c = compareBenches(
      bench(2, { tiny: 10, slower: 1000, within: 1000, faster: 1000, gone: 5 }),
      bench(8, { tiny: 25, slower: 1150, within: 1090, faster: 800 }),
      { thresholdPct: 10, noiseMs: 20 },
    );
    expect(c.rows.map((r) => [r.scenario, r.verdict, r.ratio])).toEqual([
      ['tiny', 'noise', 2.5],
      ['slower', 'regression', 1.15],
      ['within', 'ok', 1.09],
      ['faster', 'faster', 0.8],
    ]);
    expect(c.regressions).toEqual(['slower']);
    expect(c.warnings).toEqual([
      "baseline scenario 'gone' was not run",
      'the baseline ran on another machine (2 cores, cpu; now 8 cores, cpu): differences may be the machine',
    ]);
  });

  it('runs the scenarios of the bench: block, with its runs and threshold', async () => {
    const { ws, env } = workspace({
      'kiln.yaml': `${GRAPH}bench:
  runs: 2
  threshold: 300%
  scenarios:
    warm: {kind: noop, runs: 1}
    edit-lib:
      kind: incremental
      touch: [src/lib.c]
      targets: [app]
`,
    });
    const run = await kiln(ws, ['bench', '--json', '--save', 'main'], env);
    expect(run.exitCode, run.stderr).toBe(0);
    const r = parse(run.stdout);
    expect(r.scenarios.map((s) => [s.name, s.kind, s.targets, s.n])).toEqual([
      ['warm', 'noop', [], 1],
      ['edit-lib', 'incremental', ['app'], 2],
    ]);
    expect(scenario(r, 'edit-lib').reps.map((x) => [x.built, x.cached])).toEqual([[2, 0], [2, 0]]);
    expect(fs.readFileSync(path.join(ws, 'src/lib.c'), 'utf8')).toBe(LIB_C);

    // --runs overrides the block; positional targets apply to scenarios without their own; the block's threshold applies.
    const again = await kiln(ws, ['bench', '--runs', '1', '--scenario', 'warm', 'docs', '--compare', 'main'], env);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^warm +noop +1 +.* 0 +1$/m);
    expect(again.stdout).toContain('(regression: median over +300% and 20 ms)');
    expect(again.stderr).toContain("kiln: warning: baseline scenario 'edit-lib' was not run");

    // Mistakes found when the bench starts point into kiln.yaml.
    fs.writeFileSync(
      path.join(ws, 'kiln.yaml'),
      `${GRAPH}bench:\n  scenarios:\n    edit: {kind: incremental, touch: [src/gone.c], targets: [ap]}\n    far: {kind: remote}\n`,
    );
    const bad = await kiln(ws, ['bench'], env);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toBe(
      [
        "kiln: kiln.yaml:20:39: scenario 'edit': cannot touch 'src/gone.c': no such file",
        "kiln: kiln.yaml:20:62: scenario 'edit': no node matches 'ap'\n  hint: did you mean 'app'?",
        "kiln: kiln.yaml:21:5: scenario 'far' (remote) needs a remote cache, and none is configured\n  hint: add a remote: block to kiln.yaml (see BUILD.md) or set KILN_REMOTE_CACHE",
      ].join('\n'),
    );
  });
});
