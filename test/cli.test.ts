import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { buildWithSummary, kiln, KILN_MAIN, tempDir, writeFiles } from './kiln.js';

const TWO_NODES = `nodes:
  gen:
    rule: run
    inputs: [in.txt]
    outputs: [out/gen.txt]
    cmd: mkdir -p out && cp in.txt out/gen.txt
  use:
    rule: run
    deps: [gen]
    outputs: [out/use.txt]
    cmd: cp out/gen.txt out/use.txt
`;

function workspace(): string {
  const ws = tempDir();
  writeFiles(ws, { 'kiln.yaml': TWO_NODES, 'in.txt': 'hello\n' });
  return ws;
}

/** A user mistake must never print a JavaScript stack trace. */
function expectNoStack(text: string): void {
  expect(text).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/);
}

describe('kiln CLI', () => {
  it('prints its version', async () => {
    const r = await kiln(tempDir(), ['--version']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^kiln \d+\.\d+\.\d+$/);
  });

  it('every command --help lists has a module that answers its own --help (the two tables agree)', async () => {
    const dir = tempDir();
    const help = await kiln(dir, ['--help']);
    expect(help.exitCode).toBe(0);
    const names = [...help.stdout.split('commands:')[1]!.split('global options')[0]!.matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]!);
    expect(names.length).toBeGreaterThan(10);
    const answers = await Promise.all(names.map((name) => kiln(dir, [name, '--help'])));
    answers.forEach((r, i) => {
      expect(r.exitCode, `${names[i]}: ${r.stderr}`).toBe(0);
      expect(r.stdout, names[i]).toContain(`usage: kiln ${names[i]}`);
    });
  });

  it('reports a bad build file with file:line:col, a hint and exit 2', async () => {
    const ws = tempDir();
    writeFiles(ws, { 'kiln.yaml': 'nodes:\n  a:\n    rule: run\n    cmd: "true"\n    deps: [b]\n' });
    const r = await kiln(ws, ['build']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("kiln: kiln.yaml:5:12: unknown node 'b' in deps of 'a'");
    expectNoStack(r.stderr);
  });

  it('exits 2 on usage mistakes, with a hint', async () => {
    const ws = workspace();
    const cases: [string[], string][] = [
      [['biuld'], "kiln: unknown command 'biuld'\n  hint: did you mean 'kiln build'?"],
      [['build', '--no-such-flag'], "kiln: build: Unknown option '--no-such-flag'"],
      [['build', '-j', 'zero'], "kiln: build: --jobs expects a positive integer, got 'zero'"],
      // One parser for every numeric option: digits only, in range (these were an internal error, a hang, or silently taken).
      [['build', '-j', '4294967296'], "kiln: build: --jobs expects a positive integer, got '4294967296'\n  hint: decimal digits only, from 1 to 1024"],
      [['build', '-j', '100000000'], "kiln: build: --jobs expects a positive integer, got '100000000'"],
      [['build', '-j', '0x10'], "kiln: build: --jobs expects a positive integer, got '0x10'"],
      [['build', '-j', '1e3'], "kiln: build: --jobs expects a positive integer, got '1e3'"],
      [['build', '-j', ''], "kiln: build: --jobs expects a positive integer, got ''"],
      [['report', '--runs', '1.5'], "kiln: report: --runs expects a positive integer, got '1.5'"],
      [['daemon', 'status', '--idle-timeout', '-'], "kiln: daemon: --idle-timeout expects a positive integer, got '-'"],
      [['build', 'nope'], "kiln: no node matches 'nope'"],
      [['build', '--logs', 'loud'], "kiln: build: --logs must be one of full, failed, none, got 'loud'"],
      [['why'], 'kiln: why: expects exactly one node id'],
      [['why', 'gne'], "kiln: why: no node 'gne'\n  hint: did you mean 'gen'?"],
      [['graph', '--format', 'svg'], "kiln: graph: --format must be dot or json, got 'svg'"],
      [['cache', 'shrink'], "kiln: cache: expected one of stats, verify, gc, serve, got 'shrink'"],
      [['cache', 'gc'], 'kiln: cache gc: --max-size SIZE is required (e.g. 500M, 10G)'],
      [['cache', 'gc', '--max-size', 'lots'], "kiln: cache gc: --max-size SIZE is required (e.g. 500M, 10G), got 'lots'"],
    ];
    for (const [args, message] of cases) {
      const r = await kiln(ws, args, { KILN_CACHE_DIR: path.join(ws, '.cache') });
      expect(r.exitCode, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toContain(message);
      expectNoStack(r.stderr);
    }
  });

  it('says what it looked for when there is neither a kiln.yaml nor a JS workspace', async () => {
    const empty = tempDir();
    fs.mkdirSync(path.join(empty, '.git'));
    const r = await kiln(empty, ['build']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('nor an npm, pnpm or yarn workspace');
    expect(r.stderr).toContain("hint: create one (see BUILD.md, or 'kiln init' in a JS workspace) or pass -f FILE");
  });

  it('finds the root build file from a subdirectory', async () => {
    const ws = workspace();
    fs.mkdirSync(path.join(ws, 'deep/er'), { recursive: true });
    fs.mkdirSync(path.join(ws, '.git'));
    const r = await kiln(path.join(ws, 'deep/er'), ['build'], { KILN_CACHE_DIR: tempDir() });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(fs.readFileSync(path.join(ws, 'out/use.txt'), 'utf8')).toBe('hello\n');
  });

  it('prints the graph as json and dot', async () => {
    const ws = workspace();
    const json = await kiln(ws, ['graph', '--format', 'json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ edges: [['gen', 'use']] });
    const dot = await kiln(ws, ['graph']);
    expect(dot.stdout).toContain('"gen" -> "use";');
  });

  it('exits 74 without a stack trace when its output cannot be written (a full disk behind >)', async () => {
    const ws = workspace();
    const full = fs.openSync('/dev/full', 'w');
    try {
      // stdout is the device itself (a pipe would take the bytes): every write fails with ENOSPC.
      const r = spawnSync('node', [KILN_MAIN, 'graph', '--format', 'json'], { cwd: ws, stdio: ['ignore', full, 'pipe'], env: { PATH: process.env.PATH, CI: 'true' }, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(74);
      expectNoStack(r.stderr);
    } finally {
      fs.closeSync(full);
    }
  });

  it('cleans outputs so the next build restores them from the cache', async () => {
    const ws = workspace();
    const env = { KILN_CACHE_DIR: tempDir() };
    await buildWithSummary(ws, [], env);
    const clean = await kiln(ws, ['clean'], env);
    expect(clean.stdout).toBe('removed 2 outputs of 2 nodes');
    expect(fs.existsSync(path.join(ws, 'out/gen.txt'))).toBe(false);
    const r = await buildWithSummary(ws, [], env);
    expect(r.summary.nodes.map((n) => n.status)).toEqual(['cached', 'cached']);
    expect(fs.readFileSync(path.join(ws, 'out/use.txt'), 'utf8')).toBe('hello\n');
  });

  it('reports cache stats, verifies, and garbage-collects to a size', async () => {
    const ws = workspace();
    const cacheDir = tempDir();
    const env = { KILN_CACHE_DIR: cacheDir };
    await buildWithSummary(ws, [], env);
    const stats = await kiln(ws, ['cache', 'stats'], env);
    expect(stats.stdout).toContain('entries: 2\nblobs: 1\n'); // both outputs hold the same bytes
    const verify = await kiln(ws, ['cache', 'verify'], env);
    expect(verify.exitCode).toBe(0);
    expect(verify.stdout).toContain('corrupt blobs removed: 0\nbroken entries removed: 0');
    const gc = await kiln(ws, ['cache', 'gc', '--max-size', '0'], env);
    expect(gc.exitCode).toBe(0);
    expect(gc.stdout).toMatch(/^evicted 2 entries/);
  });
});
