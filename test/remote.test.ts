// Remote caches, end to end against real servers: kiln's own server, nginx
// WebDAV (Bazel HTTP protocol) and turborepo-remote-cache (Turborepo API).
// "Machine A" and "machine B" are separate checkouts with separate local caches.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { manifestDigest } from '../cache/local/outputs.js';
import { sha256Hex } from '../engine/keys/hash/sha256.js';
import { buildWithSummary, statuses, tempDir, writeFiles, type KilnRun } from './kiln.js';
import { startKilnServer, startNginx, startTurbo, type RunningServer } from './servers/start.js';

const TOKEN = 'kiln-secret-token-4711';

const WORKSPACE = {
  'kiln.yaml': `nodes:
  gen:
    rule: run
    inputs: [src.txt]
    outputs: [out/gen.txt, out/bin]
    cmd: mkdir -p out/bin && cp src.txt out/gen.txt && printf '#!/bin/sh\\necho hi\\n' > out/bin/tool && chmod +x out/bin/tool && echo generated
  use:
    rule: run
    deps: [gen]
    outputs: [out/use.txt]
    cmd: cat out/gen.txt out/gen.txt > out/use.txt
  big:
    rule: run
    outputs: [out/big.bin]
    cmd: mkdir -p out && yes kiln-payload | head -c 300000 > out/big.bin
`,
  'src.txt': 'source v1\n',
};
const OUTPUTS = ['out/gen.txt', 'out/bin/tool', 'out/use.txt', 'out/big.bin'];

function checkout(): string {
  const ws = tempDir('kiln-machine-');
  writeFiles(ws, WORKSPACE);
  return ws;
}

function expectSameOutputs(a: string, b: string): void {
  for (const o of OUTPUTS) {
    expect(fs.readFileSync(path.join(b, o)), o).toEqual(fs.readFileSync(path.join(a, o)));
    expect(fs.statSync(path.join(b, o)).mode, o).toBe(fs.statSync(path.join(a, o)).mode);
  }
}

function expectNoSecret(run: KilnRun & { summary: object }): void {
  for (const text of [run.stdout, run.stderr, JSON.stringify(run.summary)]) expect(text).not.toContain(TOKEN);
}

/** Every file under dir whose name contains `part`. */
function findFiles(dir: string, part: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.includes(part))
    .map((e) => path.join(e.parentPath, e.name));
}

interface Remote {
  name: string;
  start(): Promise<RunningServer>;
  env(server: RunningServer): Record<string, string>;
}

const REMOTES: Remote[] = [
  {
    name: 'kiln cache serve (bazel protocol)',
    start: () => startKilnServer({ KILN_SERVE_TOKENS: TOKEN }),
    env: (s) => ({ KILN_REMOTE_CACHE: s.url, KILN_REMOTE_TOKEN: TOKEN }),
  },
  {
    name: 'nginx WebDAV (bazel protocol)',
    start: () => startNginx(),
    env: (s) => ({ KILN_REMOTE_CACHE: s.url, KILN_REMOTE_TOKEN: TOKEN }),
  },
  {
    name: 'turborepo-remote-cache (turbo protocol)',
    start: () => startTurbo(TOKEN),
    env: (s) => ({ KILN_REMOTE_CACHE: s.url, KILN_REMOTE_TOKEN: TOKEN, KILN_REMOTE_PROTOCOL: 'turbo', KILN_REMOTE_TEAM: 'rackstack' }),
  },
];

describe.each(REMOTES)('remote cache: $name', (remote) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await remote.start();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('machine B gets everything machine A built as remote hits, byte-identical', async () => {
    const a = checkout();
    const built = await buildWithSummary(a, [], { KILN_CACHE_DIR: tempDir(), ...remote.env(server) });
    expect(built.exitCode, built.stderr).toBe(0);
    expect(statuses(built.summary).built).toEqual(['big', 'gen', 'use']);
    expect(built.summary.remote).toMatchObject({ uploads: 3, errors: 0 });
    expect(built.summary.remote!.bytesUp).toBeGreaterThan(1000); // turbo artifacts are gzipped
    expectNoSecret(built);

    const b = checkout();
    const got = await buildWithSummary(b, [], { KILN_CACHE_DIR: tempDir(), ...remote.env(server) });
    expect(got.exitCode, got.stderr).toBe(0);
    expect(got.summary.nodes.map((n) => [n.id, n.status, n.cache])).toEqual([
      ['gen', 'cached', 'remote'],
      ['use', 'cached', 'remote'],
      ['big', 'cached', 'remote'],
    ]);
    expect(got.summary.remote).toMatchObject({ hits: 3, misses: 0, uploads: 0, errors: 0 });
    expect(got.summary.remote!.bytesDown).toBeGreaterThan(1000);
    expect(got.stdout).toContain('gen (cached) | generated');
    expectSameOutputs(a, b);
    expectNoSecret(got);
  });

  it('--remote-read-only downloads but never uploads', async () => {
    const c = checkout();
    fs.writeFileSync(path.join(c, 'src.txt'), 'read-only change\n');
    const ro = await buildWithSummary(c, ['--remote-read-only'], { KILN_CACHE_DIR: tempDir(), ...remote.env(server) });
    expect(statuses(ro.summary)).toMatchObject({ built: ['gen', 'use'], cached: ['big'] });
    expect(ro.summary.remote).toMatchObject({ uploads: 0, hits: 1 });
    const d = checkout();
    fs.writeFileSync(path.join(d, 'src.txt'), 'read-only change\n');
    const after = await buildWithSummary(d, [], { KILN_CACHE_DIR: tempDir(), ...remote.env(server) });
    expect(statuses(after.summary).built).toEqual(['gen', 'use']);
  });

  it('discards a corrupted download and rebuilds the node', async () => {
    const a = checkout();
    fs.writeFileSync(path.join(a, 'src.txt'), 'to be corrupted\n');
    const built = await buildWithSummary(a, [], { KILN_CACHE_DIR: tempDir(), ...remote.env(server) });
    const gen = built.summary.nodes.find((n) => n.id === 'gen')!;
    // Bazel protocol servers keep blobs by digest; the turbo server keeps one artifact per key.
    const victims = remote.name.includes('turbo')
      ? findFiles(server.dataDir, gen.key!)
      : findFiles(server.dataDir, sha256OfFile(path.join(a, 'out/gen.txt')));
    expect(victims.length).toBeGreaterThan(0);
    for (const v of victims) fs.writeFileSync(v, 'garbage that matches no digest');
    const b = checkout();
    fs.writeFileSync(path.join(b, 'src.txt'), 'to be corrupted\n');
    const got = await buildWithSummary(b, [], { KILN_CACHE_DIR: tempDir(), ...remote.env(server) });
    expect(got.exitCode).toBe(0);
    expect(got.summary.nodes.find((n) => n.id === 'gen')!.status).toBe('built');
    expect(got.stdout).toMatch(/gen: remote cache sent unusable data/);
    expect(fs.readFileSync(path.join(b, 'out/gen.txt'), 'utf8')).toBe('to be corrupted\n');
  });

  it('carries npm scripts without declared outputs: their undeclared files and unsealed digests', async () => {
    const npmCheckout = (version: string) => {
      const dir = tempDir('kiln-remote-npm-');
      writeFiles(dir, {
        'package.json': JSON.stringify({ name: 'root', private: true, workspaces: ['packages/*'] }),
        'packages/lib/src.txt': `${version}\n`,
        'packages/lib/package.json': JSON.stringify({ name: 'lib', scripts: { build: 'mkdir -p dist && cp src.txt dist/out.txt' } }),
        'packages/app/package.json': JSON.stringify({ name: 'app', dependencies: { lib: '*' }, scripts: { build: 'mkdir -p dist && cat ../lib/dist/out.txt > dist/app.txt' } }),
      });
      return dir;
    };
    const build = (dir: string) => buildWithSummary(dir, ['--npm', 'build'], { KILN_CACHE_DIR: tempDir(), ...remote.env(server) });
    const version = `v-${remote.name.length}-${Date.now()}`;
    const a = await build(npmCheckout(version));
    expect(statuses(a.summary).built).toEqual(['app#build', 'lib#build']);
    const b = npmCheckout(version);
    const got = await build(b);
    expect(got.summary.nodes.map((n) => [n.id, n.status, n.cache])).toEqual([
      ['app#build', 'cached', 'remote'],
      ['lib#build', 'cached', 'remote'],
    ]);
    expect(fs.readFileSync(path.join(b, 'packages/app/dist/app.txt'), 'utf8')).toBe(`${version}\n`);
    // A checkout at another lib source gets no hit for app, though nothing of app changed.
    const c = await build(npmCheckout(`${version}-other`));
    expect(statuses(c.summary).built).toEqual(['app#build', 'lib#build']);
  });
});

function sha256OfFile(file: string): string {
  return sha256Hex(fs.readFileSync(file));
}

describe('remote cache failures', () => {
  it('a remote that is down gives one warning and the build goes on locally', async () => {
    const port = await closedPort();
    const r = await buildWithSummary(checkout(), [], { KILN_CACHE_DIR: tempDir(), KILN_REMOTE_CACHE: `http://127.0.0.1:${port}/`, KILN_REMOTE_TOKEN: TOKEN });
    expect(r.exitCode).toBe(0);
    expect(statuses(r.summary).built).toEqual(['big', 'gen', 'use']);
    expect(r.stdout.match(/remote cache unavailable/g)).toHaveLength(1);
    expect(r.stdout).toContain('ECONNREFUSED');
    expect(r.summary.remote!.errors).toBeGreaterThanOrEqual(1);
    expectNoSecret(r);
  });

  it('a remote that accepts connections and never answers costs one short wait, once per build', async () => {
    // A real listening socket that reads requests and never writes a byte back.
    const sockets: net.Socket[] = [];
    const hung = net.createServer((socket) => sockets.push(socket.on('data', () => undefined)));
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => {
      for (const socket of sockets) socket.destroy();
      hung.close();
    });
    const { port } = hung.address() as net.AddressInfo;
    const t0 = performance.now();
    const r = await buildWithSummary(checkout(), [], {
      KILN_CACHE_DIR: tempDir(), KILN_REMOTE_CACHE: `http://127.0.0.1:${port}/`, KILN_REMOTE_TOKEN: TOKEN, KILN_REMOTE_RESPONSE_TIMEOUT: '1',
    });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(statuses(r.summary).built).toEqual(['big', 'gen', 'use']);
    expect(r.stdout.match(/remote cache unavailable/g)).toHaveLength(1);
    expect(r.stdout).toContain('no response within 1000 ms');
    // One wait for the first lookup, then the remote is dropped: not one per node (three), nor the 30 s transfer bound.
    expect(performance.now() - t0).toBeLessThan(20_000);
  });

  it('uploads later what was built while the remote was down', async () => {
    const a = checkout();
    const cacheA = tempDir();
    const down = await buildWithSummary(a, [], { KILN_CACHE_DIR: cacheA, KILN_REMOTE_CACHE: `http://127.0.0.1:${await closedPort()}/` });
    expect(statuses(down.summary).built).toEqual(['big', 'gen', 'use']);
    const server = await startKilnServer({ KILN_SERVE_TOKENS: TOKEN });
    try {
      const env = { KILN_REMOTE_CACHE: server.url, KILN_REMOTE_TOKEN: TOKEN };
      const catchUp = await buildWithSummary(a, [], { KILN_CACHE_DIR: cacheA, ...env });
      expect(statuses(catchUp.summary).cached).toEqual(['big', 'gen', 'use']);
      expect(catchUp.summary.remote).toMatchObject({ uploads: 3, errors: 0 });
      const settled = await buildWithSummary(a, [], { KILN_CACHE_DIR: cacheA, ...env });
      expect(settled.summary.remote).toMatchObject({ uploads: 0 }); // nothing owed any more
      const b = checkout();
      const got = await buildWithSummary(b, [], { KILN_CACHE_DIR: tempDir(), ...env });
      expect(got.summary.nodes.every((n) => n.cache === 'remote')).toBe(true);
      expectSameOutputs(a, b);
    } finally {
      await server.stop();
    }
  });

  it('a remote that never answers times out once, then the build goes on locally', async () => {
    const hang = net.createServer(() => undefined); // accepts, never responds
    await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', resolve));
    const { port } = hang.address() as net.AddressInfo;
    try {
      const started = Date.now();
      const r = await buildWithSummary(checkout(), [], {
        KILN_CACHE_DIR: tempDir(),
        KILN_REMOTE_CACHE: `http://127.0.0.1:${port}/`,
        KILN_REMOTE_TIMEOUT: '1',
      });
      expect(r.exitCode).toBe(0);
      expect(r.stdout.match(/remote cache unavailable.*timed out after 1000 ms/g)).toHaveLength(1);
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      hang.close();
    }
  });

  it('a wrong token is reported without printing any token', async () => {
    const server = await startKilnServer({ KILN_SERVE_TOKENS: 'the-right-one' });
    try {
      const r = await buildWithSummary(checkout(), [], { KILN_CACHE_DIR: tempDir(), KILN_REMOTE_CACHE: server.url, KILN_REMOTE_TOKEN: TOKEN });
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toMatch(/remote cache unavailable.*HTTP 401 \(check the token\)/);
      expectNoSecret(r);
      expect(r.stdout).not.toContain('the-right-one');
    } finally {
      await server.stop();
    }
  });

  it('refuses an action entry whose outputs escape the node dir (crafted by a hostile remote)', async () => {
    const server = await startKilnServer({ KILN_SERVE_TOKENS: TOKEN });
    try {
      const env = { KILN_REMOTE_CACHE: server.url, KILN_REMOTE_TOKEN: TOKEN };
      const probe = await buildWithSummary(checkout(), ['--dry-run', 'big'], { KILN_CACHE_DIR: tempDir() });
      const key = probe.summary.nodes.find((n) => n.id === 'big')!.key!;
      const blob = Buffer.from('pwned\n');
      const digest = sha256Hex(blob);
      await put(server.url, `cas/${digest}`, blob);
      const outputs = [{ path: '../../escaped.txt', type: 'file' as const, digest, size: blob.length }];
      const entry = { outputs, log: null, durationMs: 1, outputDigest: manifestDigest(outputs) };
      await put(server.url, `ac/${key}`, Buffer.from(JSON.stringify(entry)));
      const ws = checkout();
      const r = await buildWithSummary(ws, ['big'], { KILN_CACHE_DIR: tempDir(), ...env });
      expect(r.exitCode).toBe(0);
      expect(r.summary.nodes.find((n) => n.id === 'big')!.status).toBe('built');
      expect(r.stdout).toMatch(/big: cache entry unusable/);
      // A hit that was not used is not counted as one.
      expect(r.summary.remote).toMatchObject({ hits: 0 });
      expect(r.summary.remote!.errors).toBeGreaterThanOrEqual(1);
      expect(fs.existsSync(path.join(ws, '..', '..', 'escaped.txt'))).toBe(false);
      expect(fs.existsSync(path.join(ws, '..', 'escaped.txt'))).toBe(false);
    } finally {
      await server.stop();
    }
  });
});

describe('turbo artifacts', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startTurbo(TOKEN);
  });
  afterAll(async () => {
    await server?.stop();
  });
  const turboEnv = (s: RunningServer, team: string) => ({
    KILN_REMOTE_CACHE: s.url,
    KILN_REMOTE_TOKEN: TOKEN,
    KILN_REMOTE_PROTOCOL: 'turbo',
    KILN_REMOTE_TEAM: team,
  });

  it('verifies x-artifact-tag signatures when a signing key is set', async () => {
    // The server keeps tags only when it is configured for signatures (it does not check them: clients do).
    const signing = await startTurbo(TOKEN, { TURBO_REMOTE_CACHE_SIGNATURE_KEY: 'server-side-flag' });
    onTestFinished(() => signing.stop());
    const env = { ...turboEnv(signing, 'signed'), KILN_REMOTE_SIGNING_KEY: 'key-one' };
    const a = await buildWithSummary(checkout(), [], { KILN_CACHE_DIR: tempDir(), ...env });
    expect(a.summary.remote).toMatchObject({ uploads: 3 });
    const forged = await buildWithSummary(checkout(), ['--remote-read-only'], { KILN_CACHE_DIR: tempDir(), ...env, KILN_REMOTE_SIGNING_KEY: 'key-two' });
    expect(statuses(forged.summary).built).toEqual(['big', 'gen', 'use']);
    expect(forged.stdout).toMatch(/invalid x-artifact-tag signature/);
    const good = await buildWithSummary(checkout(), [], { KILN_CACHE_DIR: tempDir(), ...env });
    expect(statuses(good.summary).cached).toEqual(['big', 'gen', 'use']);
  });

  it('a client with the wrong signing key overwrites nothing: no overwrite war', async () => {
    const signing = await startTurbo(TOKEN, { TURBO_REMOTE_CACHE_SIGNATURE_KEY: 'server-side-flag' });
    onTestFinished(() => signing.stop());
    const env = { ...turboEnv(signing, 'war'), KILN_REMOTE_SIGNING_KEY: 'team-key' };
    expect((await buildWithSummary(checkout(), [], { KILN_CACHE_DIR: tempDir(), ...env })).summary.remote).toMatchObject({ uploads: 3 });
    // Not read-only: it may upload, but must not upload over entries it could not verify.
    const wrong = await buildWithSummary(checkout(), [], { KILN_CACHE_DIR: tempDir(), ...env, KILN_REMOTE_SIGNING_KEY: 'stale-key' });
    expect(wrong.exitCode).toBe(0);
    expect(statuses(wrong.summary).built).toEqual(['big', 'gen', 'use']);
    expect(wrong.summary.remote).toMatchObject({ uploads: 0, hits: 0 });
    expect(wrong.stdout.match(/not signed with this machine's signing key/g)).toHaveLength(1);
    const team = await buildWithSummary(checkout(), [], { KILN_CACHE_DIR: tempDir(), ...env });
    expect(statuses(team.summary).cached).toEqual(['big', 'gen', 'use']);
    expect(team.summary.remote).toMatchObject({ hits: 3, errors: 0 });
  });

  it.each([
    ['a path with ..', { path: '../evil.txt', type: 'File' }],
    ['an absolute path', { path: '/tmp/kiln-abs-evil.txt', type: 'File' }],
    ['a symlink', { path: 'blobs/' + 'a'.repeat(64), type: 'SymbolicLink', linkpath: '/etc/passwd' }],
    ['a device file', { path: 'blobs/' + 'b'.repeat(64), type: 'CharacterDevice' }],
  ])('rejects an artifact holding %s', async (_name, member) => {
    const team = `crafted-${Math.random().toString(36).slice(2)}`;
    const probe = await buildWithSummary(checkout(), ['--dry-run', 'big'], { KILN_CACHE_DIR: tempDir() });
    const key = probe.summary.nodes.find((n) => n.id === 'big')!.key!;
    await put(server.url, `v8/artifacts/${key}?teamId=${team}`, craftedTarGz(member as CraftedMember));
    const ws = checkout();
    const r = await buildWithSummary(ws, ['big'], { KILN_CACHE_DIR: tempDir(), ...turboEnv(server, team) });
    expect(r.exitCode).toBe(0);
    expect(r.summary.nodes.find((n) => n.id === 'big')!.status).toBe('built');
    expect(r.stdout).toMatch(/big: remote cache sent unusable data \(artifact holds forbidden members/);
    expect(fs.existsSync('/tmp/kiln-abs-evil.txt')).toBe(false);
  });
});

interface CraftedMember {
  path: string;
  type: 'File' | 'SymbolicLink' | 'CharacterDevice';
  linkpath?: string;
}

/** A gzipped tar written header by header, so it can hold what no honest tool would write. */
function craftedTarGz(member: CraftedMember): Buffer {
  const body = member.type === 'File' ? Buffer.from('evil\n') : Buffer.alloc(0);
  const header = new tar.Header({
    path: member.path,
    type: member.type,
    size: body.length,
    mode: 0o644,
    mtime: new Date(0),
    ...(member.linkpath ? { linkpath: member.linkpath } : {}),
  });
  header.encode();
  const padded = Buffer.alloc(Math.ceil(body.length / 512) * 512);
  body.copy(padded);
  return zlib.gzipSync(Buffer.concat([header.block!, padded, Buffer.alloc(1024)]));
}

async function put(base: string, rel: string, body: Buffer): Promise<void> {
  const res = await fetch(new URL(rel, base), {
    method: 'PUT',
    body,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/octet-stream' },
  });
  expect(res.status, `PUT ${rel}`).toBeLessThan(300);
}

async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}
