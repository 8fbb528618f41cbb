import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { buildWithSummary, kiln, KILN_MAIN, statuses, tempDir, writeFiles } from './kiln.js';
import { isAlive } from '../engine/pid.js';

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

/** Who did a build: the daemon from memory, the daemon by running it, or the client (the daemon declined). */
type Who = 'memory' | 'daemon' | 'client';

/** Builds and reports who did it (from the daemon's counters before and after). */
async function build(ws: string, env: Record<string, string>, args: string[] = []) {
  const before = await counters(ws, env);
  const r = await buildWithSummary(ws, args, env);
  expect(r.exitCode, r.stderr).toBe(0);
  // Whoever built, the daemon proves again after it; wait for that before the next step.
  await waitReady(ws, env);
  return { ...r, who: who(before, await counters(ws, env)) };
}

function who(before: Counters, after: Counters): Who {
  if (after.ran > before.ran) return 'daemon';
  return after.answered > before.answered ? 'memory' : 'client';
}

interface Counters {
  answered: number;
  ran: number;
}

async function counters(ws: string, env: Record<string, string>): Promise<Counters> {
  const s = await kiln(ws, ['daemon', 'status'], env);
  const m = /(\d+) builds answered \((\d+) run by the daemon\)/.exec(s.stdout);
  return { answered: Number(m?.[1] ?? -1), ran: Number(m?.[2] ?? -1) };
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
    expect(r.who).toBe('memory');
    expect(statuses(r.summary).cached).toEqual(['app', 'lib']);
    expect(r.stdout).toContain('lib (cached) | lib-log'); // logs replayed like a build does
    expect(r.stdout).toMatch(/kiln: done: 2 nodes, 0 built, 2 cached/);
    const history = await kiln(ws, ['build', '--dry-run'], env); // not answered (dry run), still fine
    expect(history.exitCode).toBe(0);
  });

  it('runs the build after an input edit, streaming its output; the next no-op is answered from memory', async () => {
    const { ws, env } = await withDaemon();
    writeFiles(ws, { 'pkgs/lib/src/a.c': 'A\n' });
    const edited = await build(ws, env, ['-j', '1']);
    expect(edited.who).toBe('daemon');
    expect(statuses(edited.summary).built).toEqual(['app', 'lib']);
    expect(edited.stdout).toMatch(/built +lib .*\n.*lib-log/); // the node's log, streamed to the client
    expect(edited.stdout).toMatch(/kiln: done: 2 nodes, 2 built, 0 cached/);
    const history = await kiln(ws, ['history', '--last', '1', '--json'], env); // recorded with the client's command line
    expect((JSON.parse(history.stdout) as { runs: { args: string[] }[] }).runs[0]!.args.slice(-2)).toEqual(['-j', '1']);
    // The edit was too fresh for the build to stamp: the daemon proves lib by hashing once it is not.
    const again = await build(ws, env);
    expect(again.who).toBe('memory');
    expect(fs.readFileSync(path.join(ws, 'pkgs/app/out/app'), 'utf8')).toBe('A\nb\nplain\nmain\n');
    writeFiles(ws, { 'pkgs/lib/src/a.c': 'A2\n' }); // and the node it proved that way is watched
    expect((await build(ws, env)).who).toBe('daemon');
    expect(fs.readFileSync(path.join(ws, 'pkgs/app/out/app'), 'utf8')).toBe('A2\nb\nplain\nmain\n');
  });

  it('rebuilds exactly what a change touched and its dependents; fails like a build', async () => {
    const { ws, env } = await withDaemon();
    writeFiles(ws, { 'pkgs/app/main.c': 'main 2\n' });
    const app = await build(ws, env);
    expect(app.who).toBe('daemon');
    expect(statuses(app.summary)).toMatchObject({ built: ['app'], cached: ['lib'] });
    writeFiles(ws, { 'pkgs/lib/src/sub/b.c': 'B\n' });
    const both = await build(ws, env);
    expect(statuses(both.summary).built).toEqual(['app', 'lib']);
    expect(fs.readFileSync(path.join(ws, 'pkgs/app/out/app'), 'utf8')).toBe('a\nB\nplain\nmain 2\n');

  });

  it('reports a failing node it runs like a build does', async () => {
    const ws = tempDir();
    writeFiles(ws, { 'kiln.yaml': 'nodes:\n  t:\n    rule: run\n    inputs: [check.sh]\n    cmd: sh check.sh\n', 'check.sh': 'echo fine\n' });
    const env = { KILN_CACHE_DIR: tempDir('kiln-cache-') };
    await new Promise((r) => setTimeout(r, 150));
    expect((await kiln(ws, ['build'], env)).exitCode).toBe(0);
    await kiln(ws, ['daemon', 'start', '--idle-timeout', '5'], env);
    started.push(ws);
    writeFiles(ws, { 'check.sh': 'echo broken; exit 3\n' });
    const before = await counters(ws, env);
    const failed = await kiln(ws, ['build'], env);
    expect(failed.exitCode).toBe(1);
    expect(failed.stdout).toMatch(/broken/);
    expect(failed.stdout).toMatch(/kiln: FAILED t: /);
    expect(who(before, await counters(ws, env))).toBe('daemon');
  });

  it('declining (a remote cache is configured), still vouches for the nodes the change did not touch', async () => {
    const { ws, env } = await withDaemon();
    writeFiles(ws, { 'pkgs/app/main.c': 'main 2\n' });
    const remote = { ...env, KILN_DAEMON_DEBUG: '1', KILN_REMOTE_CACHE: 'http://127.0.0.1:9' }; // nothing listens
    const r = await kiln(ws, ['build'], remote);
    expect(r.stderr).toMatch(/daemon declined: a remote cache is configured; vouched for 1 nodes/);
    expect(r.stdout).toMatch(/1 built, 1 cached/);
  });

  it('sees a new file deep in a walked directory, a deleted output and a renamed parent', async () => {
    const { ws, env } = await withDaemon();
    writeFiles(ws, { 'pkgs/lib/src/sub/deeper/c.c': 'c\n' });
    expect(statuses((await build(ws, env)).summary).built).toEqual(['app', 'lib']);

    fs.rmSync(path.join(ws, 'pkgs/app/out/app'));
    const restored = await build(ws, env);
    expect(restored.who).toBe('daemon');
    expect(fs.existsSync(path.join(ws, 'pkgs/app/out/app'))).toBe(true);

    // Moving a parent away: the watches on the moved dirs stay silent, the parent's watch is not.
    fs.renameSync(path.join(ws, 'pkgs'), path.join(ws, 'moved'));
    const r = await kiln(ws, ['build'], env);
    expect(r.exitCode).toBe(2); // the node dirs are gone: a build-file mistake, not a cached answer
    expect(r.stdout).toMatch(/node dir 'pkgs\/lib' does not exist/);
  });

  it('rebuilds for a different declared env value; declines for a changed build file', async () => {
    const { ws, env } = await withDaemon();
    const spicy = await build(ws, { ...env, FLAVOUR: 'spicy' });
    expect(spicy.who).toBe('daemon'); // with the client's env
    expect(statuses(spicy.summary).built).toEqual(['app', 'lib']);
    expect(fs.readFileSync(path.join(ws, 'pkgs/lib/out/lib'), 'utf8')).toContain('spicy');
    writeFiles(ws, { 'kiln.yaml': GRAPH.replace('cat ../lib/out/lib main.c', 'cat main.c ../lib/out/lib') });
    const edited = await build(ws, { ...env, FLAVOUR: 'spicy' });
    expect(edited.who).toBe('client');
    expect(statuses(edited.summary).built).toEqual(['app']);
  });

  it('cancels the build it runs when the client goes away (Ctrl-C)', async () => {
    const ws = tempDir();
    const slow = `nodes:\n  slow:\n    rule: run\n    inputs: [in.txt]\n    outputs: [out.txt]\n    cmd: echo $$ > pid && sleep 30 && cp in.txt out.txt\n`;
    writeFiles(ws, { 'kiln.yaml': slow, 'in.txt': '1\n' });
    const env = { KILN_CACHE_DIR: tempDir('kiln-cache-') };
    await kiln(ws, ['daemon', 'start', '--idle-timeout', '5'], env);
    started.push(ws);
    const client = spawn(process.execPath, [KILN_MAIN, 'build'], { cwd: ws, env: { ...process.env, ...env }, stdio: 'ignore' });
    const pidFile = path.join(ws, 'pid');
    for (let i = 0; i < 200 && !fs.existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 50));
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    expect(isAlive(pid)).toBe(true);
    client.kill('SIGINT');
    for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    expect(isAlive(pid)).toBe(false);
    expect((await counters(ws, env)).ran).toBe(1); // the daemon ran it, and is still serving
  });

  it('is ignored when stopped, dead or disabled', async () => {
    const { ws, env } = await withDaemon();
    expect((await build(ws, { ...env, KILN_DAEMON: '0' })).who).toBe('client');
    const info = JSON.parse(fs.readFileSync(path.join(ws, '.kiln/daemon.json'), 'utf8')) as { pid: number };
    // Alive but not answering (as when busy re-proving a large workspace) is not "no daemon": none is started beside it.
    process.kill(info.pid, 'SIGSTOP');
    try {
      expect((await kiln(ws, ['daemon', 'status'], env)).stdout).toContain(`daemon pid ${info.pid} is running but did not answer`);
      expect((await kiln(ws, ['daemon', 'start'], env)).stdout).toContain(`daemon pid ${info.pid} is running but did not answer`);
    } finally {
      process.kill(info.pid, 'SIGCONT');
    }
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
    expect(r.who).toBe('daemon');
    expect(statuses(r.summary).built).toContain('lib'); // (its command skips symlinks: app is cut off early)
  });

  it('exits when clients can no longer find it (.kiln removed)', async () => {
    const { ws } = await withDaemon();
    const { pid } = JSON.parse(fs.readFileSync(path.join(ws, '.kiln/daemon.json'), 'utf8')) as { pid: number };
    fs.rmSync(path.join(ws, '.kiln'), { recursive: true });
    for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
    expect(isAlive(pid)).toBe(false);
  });

  it('a daemon started after .kiln was removed stays reachable when the old one retires', async () => {
    const { ws, env } = await withDaemon();
    const infoFile = path.join(ws, '.kiln/daemon.json');
    const old = (JSON.parse(fs.readFileSync(infoFile, 'utf8')) as { pid: number }).pid;
    fs.rmSync(path.join(ws, '.kiln'), { recursive: true });
    expect((await buildWithSummary(ws, [], { ...env, KILN_DAEMON: '0' })).exitCode).toBe(0);
    const start = await kiln(ws, ['daemon', 'start', '--idle-timeout', '5'], env);
    expect(start.stdout).toMatch(/daemon started/);
    const pid = (JSON.parse(fs.readFileSync(infoFile, 'utf8')) as { pid: number }).pid;
    for (let i = 0; i < 100 && isAlive(old); i++) await new Promise((r) => setTimeout(r, 100));
    expect(isAlive(old)).toBe(false);
    // Closing the old daemon's socket must not have unlinked the new one's.
    expect((await kiln(ws, ['daemon', 'status'], env)).stdout).toMatch(new RegExp(`daemon pid ${pid}: 2/2 nodes proven`));
    expect((await build(ws, env)).who).toBe('memory');
  });

  it("starts on its own for a developer's build of a large workspace (a terminal, not CI)", async () => {
    const ws = tempDir();
    const nodes = (n: number) => `nodes:\n${Array.from({ length: n }, (_, i) => `  n${i}:\n    rule: run\n    cmd: "true"\n`).join('')}`;
    const env = { ...process.env, KILN_CACHE_DIR: tempDir('kiln-cache-') };
    // `script` gives the build a terminal, as a developer's shell would.
    const inTerminal = (extra: Record<string, string>) =>
      spawnSync('script', ['-qec', `'${process.execPath}' '${KILN_MAIN}' build`, '/dev/null'], { cwd: ws, env: { ...env, ...extra }, encoding: 'utf8' });
    const daemonInfo = path.join(ws, '.kiln/daemon.json');
    writeFiles(ws, { 'kiln.yaml': nodes(20) });
    expect(inTerminal({ CI: '' }).status).toBe(0);
    expect(fs.existsSync(daemonInfo)).toBe(false); // small: a no-op is already cheap
    writeFiles(ws, { 'kiln.yaml': nodes(210) });
    expect(inTerminal({ CI: 'true' }).status).toBe(0);
    expect(inTerminal({ CI: '', KILN_DAEMON: '0' }).status).toBe(0);
    expect(fs.existsSync(daemonInfo)).toBe(false);
    const r = inTerminal({ CI: '' });
    started.push(ws);
    expect(r.stdout).toMatch(/kiln: started a daemon for this workspace \(pid \d+\)/);
    await waitReady(ws, {});
    const next = await kiln(ws, ['build'], { KILN_CACHE_DIR: env.KILN_CACHE_DIR });
    expect(next.stdout).toMatch(/210 cached/);
    expect((await counters(ws, {})).answered).toBe(1);
  });

  it('rejects a bad daemon command line', async () => {
    const ws = tempDir();
    writeFiles(ws, { 'kiln.yaml': GRAPH });
    const r = await kiln(ws, ['daemon', 'restart']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("daemon: expected start, stop or status, got 'restart'");
  });
});
