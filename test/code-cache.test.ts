// The CLI loads its commands bundle through a V8 code cache
// (engine/cli/code-cache.ts). A cache must never change what kiln does: a
// damaged one is refused by V8 and written anew, a directory others may write
// to is not used, and KILN_CODE_CACHE=0 turns it off.
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { kiln, tempDir, writeFiles } from './kiln.js';

const BUILD_FILE = 'nodes:\n  gen:\n    rule: run\n    cmd: "echo hi > out.txt"\n    outputs: [out.txt]\n';

function workspace(): string {
  const dir = tempDir('kiln-code-cache-');
  writeFiles(dir, { 'kiln.yaml': BUILD_FILE });
  return dir;
}

const cacheFiles = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.v8')) : []);

describe('the code cache of the commands bundle', () => {
  it('is written once, then used unchanged, and a damaged one is replaced', async () => {
    const ws = workspace();
    const codeCache = path.join(tempDir('kiln-code-'), 'cache');
    const env = { KILN_CODE_CACHE: codeCache, KILN_DAEMON: '0', KILN_CACHE_DIR: path.join(ws, '.cache') };
    const first = await kiln(ws, ['graph', '--format', 'json'], env);
    expect(first.exitCode, first.stderr).toBe(0);
    const [file] = cacheFiles(codeCache);
    expect(file).toBeDefined();
    const written = fs.readFileSync(path.join(codeCache, file!));
    expect(written.length).toBeGreaterThan(1000);

    // Accepted: the same answer, and the cache is left as it was.
    const second = await kiln(ws, ['graph', '--format', 'json'], env);
    expect(second.stdout).toBe(first.stdout);
    expect(fs.readFileSync(path.join(codeCache, file!)).equals(written)).toBe(true);

    // Damaged (a torn or planted file): V8 refuses it, the command is unaffected, and a good cache replaces it.
    fs.writeFileSync(path.join(codeCache, file!), written.subarray(0, 200));
    const damaged = await kiln(ws, ['build'], env);
    expect(damaged.exitCode, damaged.stderr).toBe(0);
    expect(fs.readFileSync(path.join(ws, 'out.txt'), 'utf8')).toBe('hi\n');
    expect(damaged.stderr).not.toMatch(/internal error|Error:/);
    expect(fs.statSync(path.join(codeCache, file!)).size).toBeGreaterThan(1000);
    expect(cacheFiles(codeCache)).toEqual([file]);
  });

  it('is kept per install: two copies of kiln built in turn keep each their own', async () => {
    // Two projects with kiln in their node_modules: a cache of one must not replace the other's.
    const ws = workspace();
    const codeCache = path.join(tempDir('kiln-code-'), 'cache');
    const env = { KILN_CODE_CACHE: codeCache, KILN_DAEMON: '0', KILN_CACHE_DIR: path.join(ws, '.cache') };
    const repo = path.join(import.meta.dirname, '..');
    const copy = tempDir('kiln-copy-');
    fs.cpSync(path.join(repo, 'dist', 'cli'), path.join(copy, 'dist', 'cli'), { recursive: true });
    fs.copyFileSync(path.join(repo, 'package.json'), path.join(copy, 'package.json'));
    fs.symlinkSync(path.join(repo, 'node_modules'), path.join(copy, 'node_modules'));
    const other = (args: string[]) => execa(process.execPath, [path.join(copy, 'dist', 'cli', 'main.js'), ...args], { cwd: ws, env, reject: false });
    expect((await kiln(ws, ['graph'], env)).exitCode).toBe(0);
    const [ours] = cacheFiles(codeCache);
    expect((await other(['graph'])).exitCode).toBe(0);
    expect(cacheFiles(codeCache)).toHaveLength(2);
    const theirs = cacheFiles(codeCache).find((f) => f !== ours)!;
    const stamp = (f: string) => fs.statSync(path.join(codeCache, f)).mtimeMs;
    const before = [stamp(ours!), stamp(theirs)];
    // Each is used, not written again.
    expect((await kiln(ws, ['graph'], env)).exitCode).toBe(0);
    expect((await other(['graph'])).exitCode).toBe(0);
    expect([stamp(ours!), stamp(theirs)]).toEqual(before);
  });

  it('is not used when turned off, nor in a directory others may write to', async () => {
    const ws = workspace();
    const home = tempDir('kiln-code-home-');
    const run = await kiln(ws, ['graph'], { KILN_CODE_CACHE: '0', KILN_DAEMON: '0', HOME: home });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(fs.readdirSync(home)).toEqual([]);
    // The default place, for comparison: the per-user cache dir.
    await kiln(ws, ['graph'], { KILN_DAEMON: '0', HOME: home });
    expect(cacheFiles(path.join(home, '.cache', 'kiln-code'))).toHaveLength(1);

    const shared = tempDir('kiln-code-shared-');
    fs.chmodSync(shared, 0o777);
    const open = await kiln(ws, ['graph'], { KILN_CODE_CACHE: shared, KILN_DAEMON: '0' });
    expect(open.exitCode, open.stderr).toBe(0);
    expect(open.stdout).toBe(run.stdout);
    expect(cacheFiles(shared)).toEqual([]);
  });
});
