import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadBaseline } from '../../bench-command/baseline.js';
import { compareBenches, type Comparison } from '../../bench-command/compare.js';
import { BenchRecord } from '../../bench-command/record.js';
import { formatBench, formatBenchList, formatComparison } from '../../bench-command/report.js';
import { hostFacts, type BenchResult } from '../../bench-command/result.js';
import { planScenarios } from '../../bench-command/plan.js';
import { runScenario } from '../../bench-command/runner.js';
import { DEFAULT_NOISE_MS, DEFAULT_THRESHOLD_PCT, parsePercent } from '../../buildfile/scenario.js';
import { Toucher } from '../../bench-command/touch.js';
import { UserError } from '../../diagnostic.js';
import { openStateDb } from '../../state/state-db.js';
import { readVersion } from '../../version.js';
import { git } from '../../../rules/git/exec.js';
import { parseCommand, MAX_JOBS, positiveInt, resolveCacheDir, resolveRootFile } from '../args.js';
import { loadForCommand } from '../workspace.js';

const USAGE = `usage: kiln bench [targets...] [options]

Times real 'kiln build' processes of this workspace (spawn to exit), several
runs per scenario, and records median, min and max in the checkout's history.

Scenarios (kinds):
  cold          empty cache (a fresh temporary one per run), outputs and node
                state cleaned, no remote: every node runs
  noop          nothing changed, after one untimed warm-up build
  incremental   a comment line appended to each --touch FILE before each
                build; the files' original bytes are put back afterwards
  remote        empty local cache and outputs removed: every node restored
                from the configured remote cache
Default: the scenarios of the bench: block of kiln.yaml, else cold and noop.
Targets limit the scenarios that do not name their own.

  --scenario NAME       run this scenario of the bench: block, or one of
                        this kind (repeatable)
  --touch FILE          a file to touch for the incremental scenario (repeatable)
  --runs N              timed runs per scenario (default: bench.runs, else 5)
  -j, --jobs N          passed to every kiln build
  --save NAME           name this result (a name moves to the newest bench saved with it)
  --json                print the result as JSON (format version 1) instead of a table
  --list                list the benches recorded in this checkout; run nothing
  --compare BASELINE    compare medians with a bench id, saved name or --json file;
                        exit 1 if a scenario regressed
  --threshold PCT       a median more than PCT above the baseline's is a
                        regression (default: bench.threshold, else 10%)
  --noise-ms MS         ...unless it differs by less than MS (default:
                        bench.noiseMs, else 20)`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(
    'bench',
    argv,
    {
      scenario: { type: 'string', multiple: true },
      touch: { type: 'string', multiple: true },
      runs: { type: 'string' },
      jobs: { type: 'string', short: 'j' },
      save: { type: 'string' },
      json: { type: 'boolean' },
      list: { type: 'boolean' },
      compare: { type: 'string' },
      threshold: { type: 'string' },
      'noise-ms': { type: 'string' },
    },
    USAGE,
  );
  const ws = await loadForCommand(values);
  const db = openStateDb(ws.root);
  const record = new BenchRecord(db);
  try {
    if (values.list) {
      process.stdout.write(`${formatBenchList(record.list(50))}\n`);
      return 0;
    }
    if (values.save !== undefined && !/^[A-Za-z][A-Za-z0-9._-]*$/.test(values.save)) {
      throw new UserError([{ message: `bench: --save '${values.save}' is not a name`, hint: 'a letter, then letters, digits and . _ -' }]);
    }
    const planned = planScenarios(
      ws,
      {
        scenarios: values.scenario ?? [],
        touch: values.touch ?? [],
        targets: positionals,
        cwd: process.cwd(),
        ...(values.runs !== undefined ? { runs: positiveInt('bench', 'runs', values.runs) } : {}),
      },
      process.env,
    );
    const baseline = values.compare !== undefined ? loadBaseline(values.compare, record, process.cwd()) : undefined;
    const thresholdPct = values.threshold !== undefined ? threshold(values.threshold) : (ws.bench?.thresholdPct ?? DEFAULT_THRESHOLD_PCT);
    const noiseMs = values['noise-ms'] !== undefined ? noise(values['noise-ms']) : (ws.bench?.noiseMs ?? DEFAULT_NOISE_MS);
    const flags = values.jobs !== undefined ? ['--jobs', String(positiveInt('bench', 'jobs', values.jobs, MAX_JOBS))] : [];

    const toucher = new Toucher(ws.root);
    recoverTouchedFiles(toucher);

    // A signal stops the running build; touched files are put back before exiting.
    const abort = new AbortController();
    let signalExit = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signalExit = signal === 'SIGINT' ? 130 : 143;
      abort.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);

    const started = new Date();
    const t0 = performance.now();
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-bench-'));
    const ctx = {
      ws,
      rootFile: resolveRootFile(values),
      cacheDir: resolveCacheDir(values),
      flags,
      db,
      signal: abort.signal,
      tmp,
      startedAt: started.toISOString(),
      toucher,
      say: (line: string) => process.stderr.write(`${line}\n`),
    };
    const scenarios = [];
    try {
      for (const p of planned) scenarios.push(await runScenario(ctx, p.scenario, p.selected));
    } catch (e) {
      if (signalExit) return signalExit;
      throw e;
    } finally {
      toucher.restoreAll();
      fs.rmSync(tmp, { recursive: true, force: true });
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    const result: Omit<BenchResult, 'id' | 'name'> = {
      version: 1,
      startedAt: started.toISOString(),
      durationMs: Math.round(performance.now() - t0),
      kilnVersion: readVersion(),
      host: hostFacts(),
      gitCommit: await headCommit(ws.root),
      scenarios,
    };
    const id = record.add(result);
    if (values.save !== undefined) {
      const previous = record.setName(id, values.save);
      if (previous !== undefined) process.stderr.write(`kiln: '${values.save}' now names bench ${id} (it named bench ${previous})\n`);
    }
    const saved = record.load({ id })!;
    const comparison = baseline && compareBenches(baseline, saved, { thresholdPct, noiseMs });
    return printOutcome(saved, comparison, Boolean(values.json));
  } finally {
    db.close();
  }
}

/** Puts back files an interrupted bench left touched; refuses to go on when one was edited since. */
function recoverTouchedFiles(toucher: Toucher): void {
  const leftovers = toucher.recoverLeftovers();
  for (const f of leftovers.restored) process.stderr.write(`kiln: restored ${f}, left touched by an interrupted kiln bench\n`);
  if (leftovers.kept.length > 0) {
    throw new UserError(
      leftovers.kept.map((f) => ({
        message: `bench: ${f} changed since an interrupted kiln bench touched it`,
        hint: `its original bytes are in ${toucher.backupOf(f)}: put back what you need, then delete that file`,
      })),
    );
  }
}

/** Prints the result (and comparison); the exit code is 1 when a scenario regressed. */
function printOutcome(result: BenchResult, comparison: Comparison | undefined, json: boolean): number {
  if (json) {
    process.stdout.write(`${JSON.stringify(comparison ? { ...result, comparison } : result, null, 2)}\n`);
  } else {
    process.stdout.write(`${formatBench(result)}\n${comparison ? `\n${formatComparison(comparison)}\n` : ''}`);
  }
  if (!comparison) return 0;
  for (const w of comparison.warnings) process.stderr.write(`kiln: warning: ${w}\n`);
  if (comparison.regressions.length === 0) return 0;
  process.stderr.write(`kiln: bench: build time regressed beyond ${comparison.thresholdPct}%: ${comparison.regressions.join(', ')}\n`);
  return 1;
}

/** HEAD of the git repository holding the workspace, if any: what a bench measured. */
async function headCommit(root: string): Promise<string | null> {
  try {
    const r = await git(['-C', root, 'rev-parse', '--verify', '--quiet', 'HEAD']);
    return r.code === 0 ? r.stdout.toString('utf8').trim() : null;
  } catch {
    return null; // no git on PATH
  }
}

function threshold(raw: string): number {
  const pct = parsePercent(raw);
  if (pct === undefined) throw new UserError([{ message: `bench: --threshold expects a percentage, got '${raw}'`, hint: 'e.g. --threshold 10%' }]);
  return pct;
}

function noise(raw: string): number {
  const ms = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(ms) || ms < 0) {
    throw new UserError([{ message: `bench: --noise-ms expects milliseconds (a number >= 0), got '${raw}'` }]);
  }
  return ms;
}
