// What tracing costs (issue 18): a generated Python project whose unit
// tests import its modules and do some work, run
//   - alone, and under kiln's tracer (strace as tracedCommand runs it);
//   - as a kiln test node, cold (no cache), with `inputs: traced` and with
//     declared input globs;
//   - as a no-op build of each.
// Interleaved runs, medians, and the ratios that matter: traced / untraced
// for the command and for the cold node, and the traced no-op / declared.
//   usage: node dist/bench/tracing.js [--modules N] [--runs N] [--work-ms N] [--keep]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { run } from '../engine/proc.js';
import { tracedCommand } from '../engine/tracing/strace.js';
import { positiveInt } from './generate.js';
import { kilnEnv, KILN_MAIN } from './kiln.js';

const { values } = parseArgs({
  options: { modules: { type: 'string' }, runs: { type: 'string' }, 'work-ms': { type: 'string' }, keep: { type: 'boolean' } },
});
const MODULES = positiveInt('--modules', values.modules ?? '40');
const RUNS = positiveInt('--runs', values.runs ?? '5');
const WORK_MS = positiveInt('--work-ms', values['work-ms'] ?? '20');
const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const TEST_CMD = [PYTHON, '-B', '-m', 'unittest', 'discover', '-s', 'tests', '-t', '.'];

/** A package of MODULES modules, a test per module that imports it and works about WORK_MS ms, and a workspace testing it both ways. */
function generate(dir: string): { tree: string; traced: string; declared: string } {
  const tree = path.join(dir, 'project');
  fs.mkdirSync(path.join(tree, 'calc'), { recursive: true });
  fs.mkdirSync(path.join(tree, 'tests'), { recursive: true });
  fs.writeFileSync(path.join(tree, 'calc', '__init__.py'), '');
  fs.writeFileSync(path.join(tree, 'tests', '__init__.py'), '');
  fs.writeFileSync(path.join(tree, 'README.rst'), 'calc\n');
  for (let i = 0; i < MODULES; i++) {
    fs.writeFileSync(path.join(tree, 'calc', `m${i}.py`), `import json\n\ndef f(n):\n    return sum(k * ${i + 1} for k in range(n))\n`);
    fs.writeFileSync(
      path.join(tree, 'tests', `test_m${i}.py`),
      `import time, unittest\nfrom calc.m${i} import f\n\nclass T(unittest.TestCase):\n    def test_f(self):\n        end = time.process_time() + ${WORK_MS / 1000}\n        while time.process_time() < end:\n            f(1000)\n        self.assertEqual(f(3), ${3 * (i + 1)})\n`,
    );
  }
  const workspace = (name: string, inputs: string) => {
    const ws = path.join(dir, name);
    fs.cpSync(tree, path.join(ws, 'project'), { recursive: true });
    fs.writeFileSync(
      path.join(ws, 'kiln.yaml'),
      `nodes:\n  project:\n    rule: run\n    inputs: ["src/**"]\n    outputs: [tree]\n    cmd: "rm -rf tree && cp -r src tree"\n  unit:\n    rule: test\n    deps: [project]\n    ${inputs}\n    cmd: ${JSON.stringify(TEST_CMD.join(' '))}\n`,
    );
    fs.renameSync(path.join(ws, 'project'), path.join(ws, 'src'));
    return ws;
  };
  return { tree, traced: workspace('traced', 'inputs: traced'), declared: workspace('declared', '# inputs: the tree is its dep') };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timed(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = kilnEnv()): Promise<number> {
  const r = await run(file, args, { cwd, env });
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} exited ${r.code}\n${r.stderr}${r.stdout}`);
  return r.ms;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-bench-tracing-'));
try {
  const { tree, traced, declared } = generate(dir);
  const kiln = (ws: string, cache: string, ...args: string[]) =>
    timed(process.execPath, [KILN_MAIN, 'build', '--logs', 'none', '--cache-dir', cache, ...args], ws, { ...kilnEnv(), KILN_DAEMON: '0' });
  const fresh = (ws: string) => fs.rmSync(path.join(ws, '.kiln'), { recursive: true, force: true });
  const rows = new Map<string, number[]>();
  const add = (label: string, ms: number) => rows.set(label, [...(rows.get(label) ?? []), ms]);
  const traceFile = path.join(dir, 'trace.strace');
  for (let r = 0; r < RUNS; r++) {
    process.stderr.write(`[tracing] round ${r + 1}/${RUNS}\n`);
    add('tests alone', await timed(TEST_CMD[0]!, TEST_CMD.slice(1), tree));
    const t = tracedCommand(TEST_CMD[0]!, TEST_CMD.slice(1), traceFile);
    fs.rmSync(traceFile, { force: true });
    add('tests under strace', await timed(t.file, t.args, tree));
    for (const [label, ws] of [['traced', traced], ['declared', declared]] as const) {
      const cache = path.join(dir, `cache-${label}-${r}`);
      fresh(ws);
      add(`kiln, cold: ${label}`, await kiln(ws, cache));
      // The first build after a cold one may find inputs too fresh to stamp (the racy rule) and stamps them: the next is the no-op.
      await kiln(ws, cache);
      add(`kiln, no-op: ${label}`, await kiln(ws, cache));
    }
  }
  const m = (label: string) => median(rows.get(label)!);
  const lines = [
    `tracing: ${MODULES} test modules, ~${WORK_MS} ms of work each; ${RUNS} runs, medians; ${os.availableParallelism()} cpus, node ${process.version}`,
    '',
    ...[...rows.keys()].map((label) => `${label.padEnd(28)} ${String(Math.round(m(label))).padStart(6)} ms`),
    '',
    `strace / alone (the command):      ${(m('tests under strace') / m('tests alone')).toFixed(2)}x`,
    `traced / declared (cold node):     ${(m('kiln, cold: traced') / m('kiln, cold: declared')).toFixed(2)}x`,
    `traced / declared (no-op):         ${(m('kiln, no-op: traced') / m('kiln, no-op: declared')).toFixed(2)}x`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  if (values.keep) process.stderr.write(`[tracing] kept ${dir}\n`);
  else fs.rmSync(dir, { recursive: true, force: true });
}
