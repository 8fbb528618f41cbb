// Seeded, bounded fuzzing of the command line: random commands, options and
// values (numbers out of range, empty strings, odd bytes, unknown flags,
// flags of other commands) against a real workspace. Every run must end
// with exit 0, 1 or 2 and say what was wrong: never an internal error, a
// stack trace or a hang.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mulberry32 as prng } from '../bench/prng.js';
import { kiln, tempDir, writeFiles } from './kiln.js';

const SEED = Number(process.env.KILN_TEST_SEED ?? 4242);
const RUNS = 120;

const COMMANDS = ['build', 'why', 'graph', 'clean', 'history', 'report', 'trace', 'cache', 'daemon', 'init', 'bench', 'chase', 'bisect', 'nosuch', 'toString', '__proto__'];
const OPTIONS = [
  '-j', '--jobs', '-k', '--dry-run', '--summary', '--logs', '--format', '--last', '--node', '--runs', '--json', '-o', '--output',
  '--npm', '--npm-outputs', '--strict-outputs', '--cache-dir', '-f', '--remote-cache', '--override', '--idle-timeout', '--max-size',
  '--good', '--bad', '--project', '--scenario', '--touch', '--compare', '--threshold', '--no-remote', '--offline', '--help', '--bogus',
];
const VALUES = [
  '', '0', '-3', '1', '2', '4294967296', '100000000', '0x10', '1e3', '1.5', 'NaN', 'full', 'none', 'json', 'dot', 'svg', 'a', 'b', 'nope',
  '*', "'a*'", '../x', '/etc/passwd', 'build,test', 'dist/**', 'last', '10G', 'lots', 'a=b', '=', 'http://127.0.0.1:9/', 'ftp://x',
  'é', '\u0007', '--', '-', 'kiln.yaml', 'missing.yaml',
];

describe('the command line, fuzzed', () => {
  it(`${RUNS} random command lines: exit 0, 1 or 2 with a message, never an internal error`, async () => {
    const ws = tempDir('kiln-cli-fuzz-');
    writeFiles(ws, {
      'kiln.yaml': 'nodes:\n  a:\n    rule: run\n    inputs: [a.txt]\n    outputs: [out/a]\n    cmd: mkdir -p out && cp a.txt out/a\n  b:\n    rule: run\n    deps: [a]\n    outputs: [out/b]\n    cmd: mkdir -p out && cp out/a out/b\n',
      'a.txt': 'a\n',
    });
    const rand = prng(SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const env = { KILN_CACHE_DIR: path.join(ws, '.cache'), KILN_DAEMON: '0', KILN_REMOTE_RESPONSE_TIMEOUT: '1', KILN_REMOTE_TIMEOUT: '2' };
    const failures: string[] = [];
    for (let i = 0; i < RUNS; i++) {
      const argv = [pick(COMMANDS)];
      // Subcommands some commands take, sometimes.
      if (argv[0] === 'cache' && rand() < 0.7) argv.push(pick(['stats', 'verify', 'gc', 'shrink']));
      if (argv[0] === 'daemon' && rand() < 0.8) argv.push(pick(['status', 'stop', 'start', 'restart']));
      for (let n = Math.floor(rand() * 4); n > 0; n--) {
        const r = rand();
        if (r < 0.55) argv.push(pick(OPTIONS), pick(VALUES));
        else if (r < 0.8) argv.push(pick(OPTIONS));
        else argv.push(pick(VALUES));
      }
      // A daemon started by a fuzzed line must not outlive the test: stop is cheap and harmless.
      if (argv[0] === 'daemon' && argv[1] === 'start') argv.push('--idle-timeout', '1');
      const r = await kiln(ws, argv, env);
      const out = `${r.stdout}\n${r.stderr}`;
      const what = JSON.stringify(argv);
      if (![0, 1, 2].includes(r.exitCode)) failures.push(`${what}: exit ${r.exitCode}: ${r.stderr.slice(0, 300)}`);
      else if (/internal error|\n\s+at .+:\d+:\d+\)?\n/.test(out)) failures.push(`${what}: ${out.slice(0, 300)}`);
      else if (r.exitCode === 2 && r.stderr.trim() === '' && !/usage:/.test(r.stdout)) failures.push(`${what}: exit 2 without a message`);
    }
    await kiln(ws, ['daemon', 'stop'], env);
    expect(failures).toEqual([]);
  }, 240_000);
});
