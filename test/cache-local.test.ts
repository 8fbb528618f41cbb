import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { sha256Hex } from '../engine/keys/hash/sha256.js';
import {
  CorruptBlobError,
  LocalCache,
  parseSize,
  type ActionEntry,
  type OutputEntry,
} from '../cache/local/store.js';
import { collectOutputs, manifestDigest, restoreOutputs, UnsafeOutputError } from '../cache/local/outputs.js';

const dirs: string[] = [];
const caches: LocalCache[] = [];
afterEach(() => {
  for (const c of caches.splice(0)) c.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-cache-'));
  dirs.push(d);
  return d;
}

function openCache(dir = tempDir()): LocalCache {
  const c = LocalCache.open(dir);
  caches.push(c);
  return c;
}

const blobPath = (cache: LocalCache, digest: string) => path.join(cache.dir, 'cas', digest.slice(0, 2), digest);
const key = (n: number | string) => sha256Hex(`key-${n}`);
const entryFor = (...refs: { digest: string; size: number }[]): ActionEntry => ({
  outputs: refs.map((r, i) => ({ path: `out/f${i}`, type: 'file', digest: r.digest, size: r.size })),
  log: null,
  durationMs: 1,
  outputDigest: 'x',
});
const setMtime = (file: string, msAgo: number) => {
  const t = new Date(Date.now() - msAgo);
  fs.utimesSync(file, t, t);
};

/** Every path under `root` with what it is: file bytes and mode, link targets, dirs. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    const abs = path.join(root, rel);
    const st = fs.lstatSync(abs);
    if (st.isSymbolicLink()) out[rel] = `link:${fs.readlinkSync(abs)}`;
    else if (st.isDirectory()) {
      out[rel] = 'dir';
      for (const n of fs.readdirSync(abs)) walk(rel ? `${rel}/${n}` : n);
    } else out[rel] = `file:${(st.mode & 0o777).toString(8)}:${fs.readFileSync(abs, 'hex')}`;
  };
  walk('');
  return out;
}

function makeOutputs(nodeDir: string): void {
  fs.mkdirSync(path.join(nodeDir, 'out/a/b'), { recursive: true });
  fs.mkdirSync(path.join(nodeDir, 'out/empty'));
  const file = (rel: string, data: string | Buffer, mode: number) => {
    fs.writeFileSync(path.join(nodeDir, rel), data);
    fs.chmodSync(path.join(nodeDir, rel), mode); // explicit: the umask must not decide what we compare
  };
  file('out/a/b/deep.txt', 'deep\n', 0o644);
  file('out/run.sh', '#!/bin/sh\necho hi\n', 0o755);
  file('single.bin', Buffer.from([0, 1, 2, 255]), 0o644);
  fs.symlinkSync('a/b/deep.txt', path.join(nodeDir, 'out/link'));
}

describe('blobs', () => {
  it('round-trips files and buffers, storing equal content once', async () => {
    const cache = openCache();
    const src = path.join(tempDir(), 'f.txt');
    fs.writeFileSync(src, 'hello');
    const a = await cache.putFile(src);
    const b = await cache.putBuffer(new TextEncoder().encode('hello'));
    expect(a).toEqual({ digest: sha256Hex('hello'), size: 5 });
    expect(b).toEqual(a);
    expect(cache.hasBlob(a.digest)).toBe(true);
    expect((await cache.readBlob(a.digest)).toString()).toBe('hello');
    expect(cache.stats()).toEqual({ entries: 0, blobs: 1, blobBytes: 5, tmpFiles: 0 });
  });

  it('stores a view into a larger buffer by its own bytes only', async () => {
    const cache = openCache();
    const whole = Buffer.from('xxhelloxx');
    const ref = await cache.putBuffer(whole.subarray(2, 7));
    expect(ref.digest).toBe(sha256Hex('hello'));
  });

  it('detects a corrupted blob on read and on restore, and deletes it', async () => {
    const cache = openCache();
    const ref = await cache.putBuffer(Buffer.from('precious'));
    fs.writeFileSync(blobPath(cache, ref.digest), 'tampered');
    await expect(cache.readBlob(ref.digest)).rejects.toMatchObject({ name: 'CorruptBlobError', digest: ref.digest });
    expect(cache.hasBlob(ref.digest)).toBe(false);

    const ref2 = await cache.putBuffer(Buffer.from('precious'));
    fs.writeFileSync(blobPath(cache, ref2.digest), 'tampered');
    const destDir = tempDir();
    const dest = path.join(destDir, 'out.txt');
    await expect(cache.restoreBlob(ref2.digest, dest, 0o644, tempDir())).rejects.toBeInstanceOf(CorruptBlobError);
    expect(cache.hasBlob(ref2.digest)).toBe(false);
    expect(fs.readdirSync(destDir)).toEqual([]);
  });

  it('reports a missing blob as unusable, not as a raw fs error', async () => {
    const cache = openCache();
    const digest = sha256Hex('never stored');
    await expect(cache.readBlob(digest)).rejects.toBeInstanceOf(CorruptBlobError);
    await expect(cache.restoreBlob(digest, path.join(tempDir(), 'x'), 0o644, tempDir())).rejects.toBeInstanceOf(CorruptBlobError);
  });

  it('refuses digests that are not sha256 hex', async () => {
    const cache = openCache();
    expect(() => cache.hasBlob('../../etc/passwd')).toThrow(/invalid blob digest/);
  });
});

describe('action index', () => {
  it('puts, gets, replaces and deletes entries across reopen', async () => {
    const dir = tempDir();
    const cache = openCache(dir);
    const ref = await cache.putBuffer(Buffer.from('x'));
    cache.putAction(key(1), entryFor(ref));
    cache.putAction(key(1), { ...entryFor(ref), durationMs: 7 });
    cache.close();
    caches.pop();
    const reopened = openCache(dir);
    expect(reopened.getAction(key(1))?.durationMs).toBe(7);
    reopened.deleteAction(key(1));
    expect(reopened.getAction(key(1))).toBeUndefined();
    expect(() => reopened.putAction('not-a-key', entryFor(ref))).toThrow(/invalid action key/);
  });

  it('lets several caches on one dir store and look up concurrently', async () => {
    const dir = tempDir();
    const instances = [0, 1, 2, 3].map(() => openCache(dir));
    const srcDir = tempDir();
    await Promise.all(
      instances.map(async (cache, w) => {
        for (let i = 0; i < 20; i++) {
          // Workers overlap on content (i % 5) so they race to store the same blobs.
          const src = path.join(srcDir, `w${w}-${i}`);
          fs.writeFileSync(src, `content ${i % 5}`);
          const ref = await cache.putFile(src);
          cache.putAction(key(`${w}-${i}`), entryFor(ref));
          expect(cache.getAction(key(`${w}-${i}`))?.outputs[0]?.digest).toBe(ref.digest);
        }
      }),
    );
    // Every instance sees every other's entries.
    for (const cache of instances) for (let w = 0; w < 4; w++) expect(cache.getAction(key(`${w}-19`))).toBeDefined();
    expect(instances[0]!.stats()).toMatchObject({ entries: 80, blobs: 5, tmpFiles: 0 });
    expect(await instances[1]!.verify()).toMatchObject({ corruptBlobs: [], brokenEntries: [] });
  });

  it('waits for another process holding the write lock instead of failing', async () => {
    const dir = tempDir();
    const cache = openCache(dir);
    const ref = await cache.putBuffer(Buffer.from('x'));
    // A separate OS process takes SQLite's write lock for a while; our write must wait it out (busy_timeout).
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `const db = new (require(process.argv[1]))(process.argv[2]);
         db.exec('BEGIN IMMEDIATE'); console.log('locked');
         setTimeout(() => { db.exec('COMMIT'); db.close(); }, 700);`,
        createRequire(import.meta.url).resolve('better-sqlite3'),
        path.join(dir, 'index.db'),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
    const started = Date.now();
    cache.putAction(key(1), entryFor(ref));
    expect(Date.now() - started).toBeGreaterThan(300);
    expect(cache.getAction(key(1))).toBeDefined();
    await new Promise((resolve) => holder.once('exit', resolve));
  });
});

describe('outputs', () => {
  const declared = ['out', 'single.bin'];

  it('collects and restores nested dirs, empty dirs, executables and symlinks byte for byte', async () => {
    const cache = openCache();
    const nodeDir = tempDir();
    makeOutputs(nodeDir);
    const before = snapshot(nodeDir);
    const collected = await collectOutputs(cache, nodeDir, declared);
    if (!collected.ok) throw new Error('missing outputs');
    const { outputs } = collected.entry;
    expect(outputs.map((o) => o.path)).toEqual([...outputs.map((o) => o.path)].sort());
    expect(outputs.find((o) => o.path === 'out/run.sh')).toMatchObject({ type: 'file', executable: true });
    expect(outputs.find((o) => o.path === 'out/empty')).toEqual({ path: 'out/empty', type: 'dir' });
    expect(outputs.find((o) => o.path === 'out/link')).toEqual({ path: 'out/link', type: 'symlink', target: 'a/b/deep.txt' });

    fs.rmSync(path.join(nodeDir, 'out'), { recursive: true });
    fs.writeFileSync(path.join(nodeDir, 'single.bin'), 'stale output');
    fs.mkdirSync(path.join(nodeDir, 'out'));
    fs.writeFileSync(path.join(nodeDir, 'out/leftover'), 'must vanish');
    await restoreOutputs(cache, nodeDir, declared, collected.entry, tempDir());
    expect(snapshot(nodeDir)).toEqual(before);
  });

  it('reports declared outputs that were not produced', async () => {
    const cache = openCache();
    const nodeDir = tempDir();
    fs.writeFileSync(path.join(nodeDir, 'a'), 'a');
    expect(await collectOutputs(cache, nodeDir, ['a', 'b/', 'c'])).toEqual({ ok: false, missing: ['b', 'c'] });
  });

  it('gives identical content in two different dirs the same manifest digest', async () => {
    const cache = openCache();
    const [one, two] = [tempDir(), tempDir()];
    makeOutputs(one);
    makeOutputs(two);
    const a = await collectOutputs(cache, one, declared);
    const b = await collectOutputs(cache, two, declared);
    if (!a.ok || !b.ok) throw new Error('missing outputs');
    expect(a.entry.outputDigest).toBe(b.entry.outputDigest);
    fs.writeFileSync(path.join(two, 'out/a/b/deep.txt'), 'changed\n');
    const c = await collectOutputs(cache, two, declared);
    expect(c.ok && c.entry.outputDigest).not.toBe(a.entry.outputDigest);
    fs.writeFileSync(path.join(two, 'out/a/b/deep.txt'), 'deep\n');
    fs.chmodSync(path.join(two, 'single.bin'), 0o755);
    const d = await collectOutputs(cache, two, declared);
    expect(d.ok && d.entry.outputDigest).not.toBe(a.entry.outputDigest);
  });

  it('rejects unsafe manifests without touching the filesystem', async () => {
    const cache = openCache();
    const parent = tempDir();
    const nodeDir = path.join(parent, 'node');
    fs.mkdirSync(nodeDir);
    makeOutputs(nodeDir);
    const collected = await collectOutputs(cache, nodeDir, declared);
    if (!collected.ok) throw new Error('missing outputs');
    const good = collected.entry.outputs;
    const digest = good.find((o) => o.type === 'file')!.digest;
    const before = snapshot(parent);
    const evil: [OutputEntry[], RegExp][] = [
      [[{ path: 'out/../x', type: 'file', digest }], /not a plain relative path/],
      [[{ path: '../x', type: 'file', digest }], /not a plain relative path/],
      [[{ path: '/etc/passwd', type: 'file', digest }], /not a plain relative path/],
      [[{ path: 'elsewhere/x', type: 'file', digest }], /not under a declared output/],
      [[{ path: 'out/esc', type: 'symlink', target: '../../outside' }], /points outside/],
      [[{ path: 'out/abs', type: 'symlink', target: '/etc' }], /points outside/],
      // Lexically inside, but `p` points at the node dir so `p/..` is its parent.
      [
        [
          { path: 'out/p', type: 'symlink', target: '..' },
          { path: 'out/q', type: 'symlink', target: 'p/..' },
        ],
        /out\/q .* points outside/,
      ],
      // A file written through a symlink from the same manifest.
      [
        [
          { path: 'out/d', type: 'symlink', target: '.' },
          { path: 'out/d/x', type: 'file', digest },
        ],
        /inside symlink/,
      ],
      [[{ path: 'out/f', type: 'file', digest: '../../etc/passwd' }], /no valid digest/],
    ];
    for (const [outputs, reason] of evil) {
      const restoring = restoreOutputs(cache, nodeDir, declared, { outputs: [...good, ...outputs] }, tempDir());
      await expect(restoring).rejects.toBeInstanceOf(UnsafeOutputError);
      await expect(restoring).rejects.toThrow(reason);
    }
    await expect(restoreOutputs(cache, nodeDir, ['../up'], { outputs: [] }, tempDir())).rejects.toBeInstanceOf(UnsafeOutputError);
    await expect(restoreOutputs(cache, nodeDir, ['.'], { outputs: [] }, tempDir())).rejects.toBeInstanceOf(UnsafeOutputError);
    expect(snapshot(parent)).toEqual(before);
  });

  it('refuses to collect outputs it could never restore', async () => {
    const cache = openCache();
    const nodeDir = tempDir();
    fs.mkdirSync(path.join(nodeDir, 'out'));
    fs.symlinkSync('../../outside', path.join(nodeDir, 'out/esc'));
    await expect(collectOutputs(cache, nodeDir, ['out'])).rejects.toBeInstanceOf(UnsafeOutputError);
  });

  it('digests manifests independently of entry order and size', () => {
    const a: OutputEntry = { path: 'a', type: 'file', digest: sha256Hex('a'), size: 1, executable: false };
    const b: OutputEntry = { path: 'b', type: 'symlink', target: 'a' };
    expect(manifestDigest([a, b])).toBe(manifestDigest([b, { ...a, size: 99, executable: undefined }]));
  });
});

describe('maintenance', () => {
  it('verifies a clean cache as clean', async () => {
    const cache = openCache();
    const ref = await cache.putBuffer(Buffer.from('ok'));
    cache.putAction(key(1), { ...entryFor(ref), log: ref });
    expect(await cache.verify()).toEqual({
      blobsChecked: 1,
      corruptBlobs: [],
      entriesChecked: 1,
      brokenEntries: [],
      staleTempFiles: 0,
    });
  });

  it('reports and removes corrupt blobs, broken entries and stale temp files', async () => {
    const cache = openCache();
    const corrupt = await cache.putBuffer(Buffer.from('will rot'));
    const lost = await cache.putBuffer(Buffer.from('will vanish'));
    const fine = await cache.putBuffer(Buffer.from('fine'));
    cache.putAction(key('lost'), entryFor(fine, lost));
    cache.putAction(key('fine'), entryFor(fine));
    fs.writeFileSync(blobPath(cache, corrupt.digest), 'rotten');
    fs.rmSync(blobPath(cache, lost.digest));
    // Leftovers of a killed process, and a write that may still be in flight.
    const tmp = path.join(cache.dir, 'tmp');
    fs.writeFileSync(path.join(tmp, 'old'), 'partial');
    setMtime(path.join(tmp, 'old'), 2 * 60 * 60_000);
    fs.writeFileSync(path.join(tmp, 'fresh'), 'partial');

    expect(await cache.verify()).toEqual({
      blobsChecked: 2,
      corruptBlobs: [corrupt.digest],
      entriesChecked: 2,
      brokenEntries: [key('lost')],
      staleTempFiles: 1,
    });
    expect(cache.hasBlob(corrupt.digest)).toBe(false);
    expect(cache.getAction(key('lost'))).toBeUndefined();
    expect(cache.getAction(key('fine'))).toBeDefined();
    expect(fs.readdirSync(tmp)).toEqual(['fresh']);
  });

  it('gc evicts least recently used entries until referenced blobs fit, sparing young blobs', async () => {
    const cache = openCache();
    const refs = [];
    for (const n of [0, 1, 2]) refs.push(await cache.putBuffer(Buffer.alloc(1000, n)));
    const shared = await cache.putBuffer(Buffer.alloc(500, 9));
    for (const n of [0, 1, 2]) cache.putAction(key(n), entryFor(refs[n]!, shared));
    // Make entry 1 the least recently used, then 0, then 2; all blobs old enough to delete.
    const db = new Database(path.join(cache.dir, 'index.db'));
    for (const [n, ago] of [[1, 3e6], [0, 2e6], [2, 1e6]] as const) {
      db.prepare('UPDATE actions SET last_access = ? WHERE key = ?').run(Date.now() - ago, key(n));
    }
    db.close();
    for (const r of [...refs, shared]) setMtime(blobPath(cache, r.digest), 3_600_000);
    const orphanYoung = await cache.putBuffer(Buffer.from('being stored by another build'));

    // A hit refreshes last access: entry 1 becomes the most recently used.
    expect(cache.getAction(key(1))).toBeDefined();
    const report = cache.gc({ maxBytes: 2600 });
    expect(report).toEqual({
      entriesEvicted: 1,
      blobsDeleted: 1,
      bytesFreed: 1000,
      bytesAfter: 2500 + orphanYoung.size,
    });
    expect(cache.getAction(key(0))).toBeUndefined();
    expect(cache.getAction(key(1))).toBeDefined();
    expect(cache.hasBlob(refs[0]!.digest)).toBe(false);
    expect(cache.hasBlob(shared.digest)).toBe(true);
    expect(cache.hasBlob(orphanYoung.digest)).toBe(true);

    expect(cache.gc({ maxBytes: 0 })).toMatchObject({ entriesEvicted: 2, blobsDeleted: 3, bytesAfter: orphanYoung.size });
    expect(cache.stats()).toMatchObject({ entries: 0, blobs: 1 });
  });

  it('storing a blob again protects it from a concurrent gc', async () => {
    const cache = openCache();
    const ref = await cache.putBuffer(Buffer.from('old but needed'));
    setMtime(blobPath(cache, ref.digest), 3_600_000);
    await cache.putBuffer(Buffer.from('old but needed'));
    expect(cache.gc({ maxBytes: 0 }).blobsDeleted).toBe(0);
  });

  it.each([
    ['1024', 1024],
    ['10k', 10 * 1024],
    ['500M', 500 * 2 ** 20],
    ['2G', 2 * 2 ** 30],
    ['1.5g', 1.5 * 2 ** 30],
    ['2GB', 2 * 2 ** 30],
    [' 7 ', 7],
    ['', undefined],
    ['abc', undefined],
    ['-1', undefined],
    ['5X', undefined],
    ['1e3', undefined],
  ])('parseSize(%j) = %j', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });
});
