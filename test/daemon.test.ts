import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildWithSummary, kiln, processRunning, statuses, tempDir, writeFiles } from './kiln.js';

const GRAPH = `
nodes:
  lib:
    rule: run
    dir: pkgs/lib
    inputs: ['src/**']
    outputs: [out/lib]
    env: [FLAVOUR]
    cmd: mkdir -p out && cat $(find src -type f | sort) > out/lib && echo "$FLAVOUR" >> out/lib && echo lib-log
  app:
    rule: run
    dir: pkgs/app
    deps: [lib]
    inputs: [main.c]
    outputs: [out/app]
    cmd: mkdir -p out && cat ../lib/out/lib main.c > out/app
`;

const started: string[] = [];

afterEach(async () => {
  for (const ws of started.splice(0)) await kiln(ws, ['daemon', 'stop']);
});

async function withDaemon() {
  const ws = tempDir();
  writeFiles(ws, { 'kiln.yaml': GRAPH, 'pkgs/lib/src/a.c': 'a\n', 'pkgs/lib/src/sub/b.c': 'b\n', 'pkgs/app/main.c': 'main\n' });
  const env = { KILN_CACHE_DIR: tempDir('kiln-cache-'), FLAVOUR: 'plain' };
  await new Promise((r) => setTimeout(r, 150)); // past the racy margin: stamps get recorded
  expect(statuses((await buildWithSummary(ws, [], env)).summary).built).toEqual(['app', 'lib']);
  const start = await kiln(ws, ['daemon', 'start', '--idle-timeout', '5'], env);
  expect(start.exitCode, start.stderr).toBe(0);
  started.push(ws);
  expect(start.stdout).toMatch(/2\/2 nodes proven up to date/);
  return { ws, env };
}

/** Builds and reports whether the daemon answered (its count of answers went up). */
async function build(ws: string, env: Record<string, string>, args: string[] = []) {
  const before = await answers(ws, env);
  const r = await buildWithSummary(ws, args, env);
  expect(r.exitCode, r.stderr).toBe(0);
  // A build the daemon did not answer tells it to prove again; wait for that before the next step.
  await waitReady(ws, env);
  return { ...r, answered: (await answers(ws, env)) > before };
}

async function answers(ws: string, env: Record<string, string>): Promise<number> {
  const s = await kiln(ws, ['daemon', 'status'], env);
  return Number(/(\d+) builds answered/.exec(s.stdout)?.[1] ?? -1);
}

async function waitReady(ws: string, env: Record<string, string>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await kiln(ws, ['daemon', 'status'], env)).stdout.includes('; ready')) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('kiln daemon', () => {
  it('answers a no-op build from memory: same output, summary and history as a build', async () => {
    const { ws, env } = await withDaemon();
    const r = await build(ws, env);
    expect(r.answered).toBe(true);
    expect(statuses(r.summary).cached).toEqual(['app', 'lib']);
    expect(r.stdout).toContain('lib (cached) | lib-log'); // logs replayed like a build does
    expect(r.stdout).toMatch(/kiln: done: 2 nodes, 0 built, 2 cached/);
    const history = await kiln(ws, ['build', '--dry-run'], env); // not answered (dry run), still fine
    expect(history.exitCode).toBe(0);
  });

  it('declines after an input edit, the build rebuilds, and the next no-op is answered again', async () => {
    const { ws, env } = await withDaemon();
    writeFiles(ws, { 'pkgs/lib/src/a.c': 'A\n' });
    const edited = await build(ws, env);
    expect(edited.answered).toBe(false);
    expect(statuses(edited.summary).built).toEqual(['app', 'lib']);
    // The edit was too fresh for the build to stamp: the daemon proves lib by hashing once it is not.
    const again = await build(ws, env);
    expect(again.answered).toBe(true);
    expect(fs.readFileSync(path.join(ws, 'pkgs/app/out/app'), 'utf8')).toBe('A\nb\nplain\nmain\n');
  });

  it('declining after a change, still vouches for the nodes the change did not touch', async () => {
    const { ws, env } = await withDaemon();
    writeFiles(ws, { 'pkgs/app/main.c': 'main 2\n' });
    const r = await kiln(ws, ['build'], { ...env, KILN_DAEMON_DEBUG: '1' });
    expect(r.stderr).toMatch(/daemon declined: pkgs\/app\/main.c changed; vouched for 1 nodes/);
    expect(r.stdout).toMatch(/1 built, 1 cached/);
    await waitReady(ws, env);
    writeFiles(ws, { 'pkgs/lib/src/sub/b.c': 'B\n' }); // lib changes, app depends on it: only app is vouched for
    const both = await kiln(ws, ['build'], { ...env, KILN_DAEMON_DEBUG: '1' });
    expect(both.stderr).toMatch(/vouched for 1 nodes/);
    expect(both.stdout).toMatch(/2 built, 0 cached/);
    expect(fs.readFileSync(path.join(ws, 'pkgs/app/out/app'), 'utf8')).toBe('a\nB\nplain\nmain 2\n');
  });

  it('sees a new file deep in a walked directory, a deleted output and a renamed parent', async () => {
    const { ws, env } = await withDaemon();
    writeFiles(ws, { 'pkgs/lib/src/sub/deeper/c.c': 'c\n' });
    expect(statuses((await build(ws, env)).summary).built).toEqual(['app', 'lib']);

    fs.rmSync(path.join(ws, 'pkgs/app/out/app'));
    const restored = await build(ws, env);
    expect(restored.answered).toBe(false);
    expect(fs.existsSync(path.join(ws, 'pkgs/app/out/app'))).toBe(true);

    // Moving a parent away: the watches on the moved dirs stay silent, the parent's watch is not.
    fs.renameSync(path.join(ws, 'pkgs'), path.join(ws, 'moved'));
    const r = await kiln(ws, ['build'], env);
    expect(r.exitCode).toBe(2); // the node dirs are gone: a build-file mistake, not a cached answer
    expect(r.stdout).toMatch(/node dir 'pkgs\/lib' does not exist/);
  });

  it('declines for a different declared env value and for a changed build file', async () => {
    const { ws, env } = await withDaemon();
    const spicy = await build(ws, { ...env, FLAVOUR: 'spicy' });
    expect(spicy.answered).toBe(false);
    expect(statuses(spicy.summary).built).toEqual(['app', 'lib']);
    writeFiles(ws, { 'kiln.yaml': GRAPH.replace('cat ../lib/out/lib main.c', 'cat main.c ../lib/out/lib') });
    const edited = await build(ws, { ...env, FLAVOUR: 'spicy' });
    expect(edited.answered).toBe(false);
    expect(statuses(edited.summary).built).toEqual(['app']);
  });

  it('is ignored when stopped, dead or disabled', async () => {
    const { ws, env } = await withDaemon();
    expect((await build(ws, { ...env, KILN_DAEMON: '0' })).answered).toBe(false);
    const info = JSON.parse(fs.readFileSync(path.join(ws, '.kiln/daemon.json'), 'utf8')) as { pid: number };
    process.kill(info.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 100));
    const r = await buildWithSummary(ws, [], env); // a dead daemon's leftovers cost nothing
    expect(statuses(r.summary).cached).toEqual(['app', 'lib']);
    expect((await kiln(ws, ['daemon', 'status'], env)).stdout).toContain('no daemon running');
    const restart = await kiln(ws, ['daemon', 'start'], env);
    expect(restart.stdout).toMatch(/daemon started/);
    expect((await kiln(ws, ['daemon', 'stop'], env)).stdout).toMatch(/daemon stopped/);
    expect(fs.existsSync(path.join(ws, '.kiln/daemon.json'))).toBe(false);
  });

  it('does not vouch for an input that can change through another path (symlink, hard link)', async () => {
    const ws = tempDir();
    const outside = tempDir('kiln-outside-');
    writeFiles(outside, { 'x.c': 'x\n' });
    writeFiles(ws, { 'kiln.yaml': GRAPH, 'pkgs/lib/src/a.c': 'a\n', 'pkgs/app/main.c': 'main\n' });
    fs.symlinkSync(path.join(outside, 'x.c'), path.join(ws, 'pkgs/lib/src/link.c'));
    const env = { KILN_CACHE_DIR: tempDir('kiln-cache-'), FLAVOUR: 'plain' };
    await new Promise((r) => setTimeout(r, 150));
    expect((await buildWithSummary(ws, [], env)).exitCode).toBe(0);
    const start = await kiln(ws, ['daemon', 'start', '--idle-timeout', '5'], env);
    started.push(ws);
    expect(start.stdout).toMatch(/0\/2 nodes proven up to date/); // app depends on lib
    fs.writeFileSync(path.join(outside, 'x.c'), 'X\n'); // no event in any watched directory
    const r = await build(ws, env);
    expect(r.answered).toBe(false);
    expect(statuses(r.summary).built).toContain('lib'); // (its command skips symlinks: app is cut off early)
  });

  it('exits when clients can no longer find it (.kiln removed)', async () => {
    const { ws } = await withDaemon();
    const { pid } = JSON.parse(fs.readFileSync(path.join(ws, '.kiln/daemon.json'), 'utf8')) as { pid: number };
    fs.rmSync(path.join(ws, '.kiln'), { recursive: true });
    for (let i = 0; i < 100 && processRunning(pid); i++) await new Promise((r) => setTimeout(r, 100));
    expect(processRunning(pid)).toBe(false);
  });

  it('rejects a bad daemon command line', async () => {
    const ws = tempDir();
    writeFiles(ws, { 'kiln.yaml': GRAPH });
    const r = await kiln(ws, ['daemon', 'restart']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("daemon: expected start, stop or status, got 'restart'");
  });
});
