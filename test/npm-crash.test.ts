// kill -9 over an npm workspace whose scripts declare no outputs: after
// every kill the next build must recover, and at the end every file the
// scripts wrote equals a clean build's, byte for byte.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { buildWithSummary, KILN_MAIN, statuses, tempDir, writeFiles } from './kiln.js';
import { mulberry32 as prng } from '../bench/prng.js';

const SEED = Number(process.env.KILN_TEST_SEED ?? 20261206);
const randInt = (rand: () => number, lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));

/** 12 packages in 3 layers; each build sleeps, then writes dist/ from its source and its deps' dist/. */
function workspace(rand: () => number): { files: Record<string, string>; sources: string[] } {
  const files: Record<string, string> = {
    'package.json': JSON.stringify({ name: 'root', private: true, workspaces: ['packages/*'] }),
  };
  const layers = [['a0', 'a1', 'a2', 'a3'], ['b0', 'b1', 'b2', 'b3'], ['c0', 'c1', 'c2', 'c3']];
  const sources: string[] = [];
  layers.forEach((layer, depth) => {
    for (const name of layer) {
      const deps = depth === 0 ? [] : [layers[depth - 1]![randInt(rand, 0, 3)]!, layers[depth - 1]![randInt(rand, 0, 3)]!];
      const unique = [...new Set(deps)];
      const sleepS = `0.${String(randInt(rand, 20, 150)).padStart(3, '0')}`;
      const cat = ['src.txt', ...unique.map((d) => `../${d}/dist/out.txt`)].join(' ');
      files[`packages/${name}/package.json`] = JSON.stringify({
        name,
        version: '1.0.0',
        dependencies: Object.fromEntries(unique.map((d) => [d, '1.0.0'])),
        scripts: { build: `mkdir -p dist/sub && sleep ${sleepS} && cat ${cat} > dist/out.txt && echo ${name} > dist/sub/name.txt` },
      });
      files[`packages/${name}/src.txt`] = `${name} v0\n`;
      sources.push(`packages/${name}/src.txt`);
    }
  });
  return { files, sources };
}

/** Every file under packages/*\/dist, path → content. */
function distFiles(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pkg of fs.readdirSync(path.join(root, 'packages'))) {
    const dist = path.join(root, 'packages', pkg, 'dist');
    if (!fs.existsSync(dist)) continue;
    for (const rel of fs.readdirSync(dist, { recursive: true }) as string[]) {
      const abs = path.join(dist, rel);
      if (fs.statSync(abs).isFile()) out[`${pkg}/dist/${rel}`] = fs.readFileSync(abs, 'utf8');
    }
  }
  return out;
}

/** Kills what a killed kiln left running in the workspace (its scripts have their own process groups). */
async function reapUnder(dir: string): Promise<void> {
  for (let round = 0; round < 50; round++) {
    const pids = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
      try {
        return fs.readlinkSync(`/proc/${p}/cwd`).startsWith(dir);
      } catch {
        return false;
      }
    });
    if (pids.length === 0) return;
    for (const p of pids) {
      try {
        process.kill(Number(p), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await sleep(20);
  }
}

describe('kill -9 over npm scripts without declared outputs', () => {
  it('leaves no output different from a clean build', async () => {
    const rand = prng(SEED);
    const { files, sources } = workspace(rand);
    const ws = tempDir('kiln-npm-crash-');
    const cacheDir = tempDir('kiln-npm-crash-cache-');
    writeFiles(ws, files);
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', CI: 'true', KILN_CACHE_DIR: cacheDir };
    let kills = 0;
    for (let i = 0; i < 12; i++) {
      if (rand() < 0.6) {
        const src = sources[randInt(rand, 0, sources.length - 1)]!;
        fs.writeFileSync(path.join(ws, src), `${path.basename(path.dirname(src))} v${i + 1}\n`);
      }
      if (rand() < 0.2) fs.rmSync(path.join(ws, 'packages', `b${randInt(rand, 0, 3)}`, 'dist'), { recursive: true, force: true });
      const child = spawn(process.execPath, [KILN_MAIN, 'build', '--npm', 'build', '-j', String(randInt(rand, 1, 4))], {
        cwd: ws, detached: true, stdio: 'ignore', env,
      });
      const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      const done = await Promise.race([closed.then(() => true), sleep(randInt(rand, 100, 700)).then(() => false)]);
      if (!done) {
        try {
          process.kill(-child.pid!, 'SIGKILL');
          kills++;
        } catch {
          /* exited just now */
        }
      } else {
        expect(await closed, `iteration ${i}`).toBe(0);
      }
      await closed;
      await reapUnder(ws);
    }
    expect(kills).toBeGreaterThanOrEqual(4);

    const final = await buildWithSummary(ws, ['--npm', 'build'], { KILN_CACHE_DIR: cacheDir });
    expect(final.exitCode, final.stderr + final.stdout).toBe(0);
    const ref = tempDir('kiln-npm-crash-ref-');
    writeFiles(ref, files);
    for (const src of sources) fs.copyFileSync(path.join(ws, src), path.join(ref, src));
    const clean = await buildWithSummary(ref, ['--npm', 'build'], { KILN_CACHE_DIR: tempDir('kiln-npm-crash-refcache-') });
    expect(statuses(clean.summary).built).toHaveLength(12);
    const expected = distFiles(ref);
    expect(Object.keys(expected)).toHaveLength(24);
    expect(distFiles(ws)).toEqual(expected);
    // And the next build of the crashed checkout builds nothing.
    expect(statuses((await buildWithSummary(ws, ['--npm', 'build'], { KILN_CACHE_DIR: cacheDir })).summary).built).toEqual([]);
  }, 120_000);
});
