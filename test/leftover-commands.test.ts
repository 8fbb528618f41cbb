// A kiln killed with SIGKILL leaves its commands running in their own
// process groups; the next build stops them before it starts, and says so.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { buildWithSummary, KILN_MAIN, tempDir, writeFiles } from './kiln.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('commands a killed kiln left running', () => {
  it('are stopped by the next build, which names them', async () => {
    const ws = tempDir('kiln-leftover-');
    const cacheDir = tempDir('kiln-leftover-cache-');
    writeFiles(ws, {
      'kiln.yaml': 'nodes:\n  slow:\n    rule: run\n    outputs: [out.txt]\n    cmd: echo $$ > pid && sleep 60 && echo done > out.txt\n',
    });
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', CI: 'true', KILN_CACHE_DIR: cacheDir, KILN_DAEMON: '0' };
    const kiln = spawn(process.execPath, [KILN_MAIN, 'build'], { cwd: ws, env, stdio: 'ignore', detached: true });
    const pidFile = path.join(ws, 'pid');
    // The command may write its pid before kiln has recorded it (microseconds after the spawn): wait for both.
    const running = path.join(ws, '.kiln/running');
    const recorded = () => fs.existsSync(running) && fs.readdirSync(running).length > 0;
    for (let i = 0; i < 200 && !(fs.existsSync(pidFile) && recorded()); i++) await sleep(50);
    const commandPid = Number(fs.readFileSync(pidFile, 'utf8'));
    expect(alive(commandPid)).toBe(true);
    // SIGKILL kiln alone, as an OOM killer or a CI runner would: its command's group lives on.
    process.kill(kiln.pid!, 'SIGKILL');
    await new Promise((resolve) => kiln.on('close', resolve));
    await sleep(200);
    expect(alive(commandPid), 'the command outlived its kiln').toBe(true);

    fs.writeFileSync(path.join(ws, 'kiln.yaml'), 'nodes:\n  slow:\n    rule: run\n    outputs: [out.txt]\n    cmd: echo quick > out.txt\n');
    const next = await buildWithSummary(ws, [], { KILN_CACHE_DIR: cacheDir, KILN_DAEMON: '0' });
    expect(next.exitCode, next.stderr).toBe(0);
    expect(next.stdout + next.stderr).toMatch(/stopped 1 command a killed kiln \(pid \d+\) left running: slow/);
    expect(alive(commandPid)).toBe(false);
    expect(fs.readFileSync(path.join(ws, 'out.txt'), 'utf8')).toBe('quick\n');
    expect(fs.readdirSync(path.join(ws, '.kiln/running'))).toEqual([]);
  });
});
