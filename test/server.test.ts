// The remote cache server over real HTTP on 127.0.0.1, with real files and a
// real SQLite index: in-process via startServer for most cases, and once as
// `kiln cache serve` in a child process.
import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startServer, type RunningServer, type ServerOptions } from '../cache/server/server.js';
import { KILN_MAIN, kiln, tempDir } from './kiln.js';

const RW = 'rw-secret-token';
const RO = 'ro-secret-token';
const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const running: RunningServer[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  // A failed assertion must not leave a server process behind.
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function start(overrides: Partial<ServerOptions> = {}): Promise<RunningServer & { dir: string }> {
  const dir = overrides.dir ?? path.join(tempDir('kiln-server-'), 'store');
  const server = await startServer({
    dir,
    host: '127.0.0.1',
    port: 0,
    maxBytes: 64 << 20,
    maxBodyBytes: 1 << 20,
    tokens: { readWrite: [RW], readOnly: [RO] },
    ...overrides,
  });
  const started = { ...server, dir };
  running.push(started);
  return started;
}

/** Stops a server started by start() now (it is not closed again afterwards). */
async function stop(server: RunningServer): Promise<void> {
  const i = running.indexOf(server);
  if (i !== -1) running.splice(i, 1);
  await server.close();
}

interface Call {
  method?: string;
  token?: string | null;
  body?: string | Uint8Array;
  headers?: Record<string, string>;
}

/** Keep-alive HTTP client: undici's fetch costs a few ms per request here, node:http well under one. */
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
afterAll(() => agent.destroy());

interface Reply {
  status: number;
  body: Buffer;
  text: string;
  headers: { get(name: string): string | null };
}

function call(base: string, urlPath: string, { method = 'GET', token = RW, body, headers = {} }: Call = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(base + urlPath, {
      method,
      agent,
      headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...headers },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        const get = (name: string): string | null => {
          const v = res.headers[name.toLowerCase()];
          return v === undefined ? null : String(v);
        };
        resolve({ status: res.statusCode!, body: bytes, text: bytes.toString('utf8'), headers: { get } });
      });
    });
    req.end(body);
  });
}

/** Every file under dir, relative, sorted. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .filter((rel) => fs.statSync(path.join(dir, rel)).isFile())
    .sort();
}

/** Polls until no temp file is left (uploads the server is still unwinding clean up asynchronously). */
async function expectNoTempFiles(dir: string): Promise<void> {
  const deadline = Date.now() + 3_000;
  while (filesUnder(path.join(dir, 'tmp')).length > 0 && Date.now() < deadline) await sleep(20);
  expect(filesUnder(path.join(dir, 'tmp'))).toEqual([]);
}

async function metric(base: string, name: string): Promise<number> {
  const { text } = await call(base, '/metrics');
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** A PUT over node:http with full control of the body's framing; resolves with the status. */
function rawPut(
  url: string,
  chunks: Buffer[],
  headers: Record<string, string | number> = {},
  onContinue?: (req: http.ClientRequest) => void,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'PUT', headers: { authorization: `Bearer ${RW}`, ...headers } });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', reject);
    if (onContinue) {
      req.on('continue', () => onContinue(req));
      req.flushHeaders();
      return;
    }
    for (const c of chunks) req.write(c);
    req.end();
  });
}

/** Sends a PUT's headers and half of its body on a raw socket, and leaves it there. */
async function halfUpload(base: string, urlPath: string, body: Buffer): Promise<net.Socket> {
  const { hostname, port } = new URL(base);
  const socket = net.connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.write(
    `PUT ${urlPath} HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${RW}\r\nContent-Length: ${body.length}\r\n\r\n`,
  );
  await new Promise<void>((resolve) => socket.write(body.subarray(0, body.length >> 1), () => resolve()));
  return socket;
}

/** A client that disconnects mid-upload. */
async function droppedUpload(base: string, urlPath: string, body: Buffer): Promise<void> {
  const socket = await halfUpload(base, urlPath, body);
  await sleep(10);
  socket.destroy();
}

/** `kiln cache serve ARGS` as a child process; `url` resolves once it prints its listening line. */
function spawnServe(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [KILN_MAIN, 'cache', 'serve', '--listen', '127.0.0.1:0', ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
  });
  children.push(child);
  const out = { stdout: '', stderr: '' };
  child.stderr.on('data', (d: Buffer) => (out.stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out.stdout += d;
      const m = /^kiln cache serve: listening on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(out.stdout);
      if (m) resolve(m[1]!);
    });
    void exited.then((code) => reject(new Error(`exited ${code} before listening: ${out.stderr}`)));
  });
  return { child, url, exited, out };
}

describe('kiln cache server: Bazel HTTP cache protocol', () => {
  it('round-trips AC and CAS entries, answers HEAD and 404', async () => {
    const s = await start();
    const blob = randomBytes(100_000);
    const casKey = sha256(blob);
    const acKey = sha256('some action');
    expect((await call(s.url, `/cas/${casKey}`)).status).toBe(404);
    expect((await call(s.url, `/cas/${casKey}`, { method: 'HEAD' })).status).toBe(404);

    expect((await call(s.url, `/cas/${casKey}`, { method: 'PUT', body: blob })).status).toBe(200);
    expect((await call(s.url, `/ac/${acKey}`, { method: 'PUT', body: 'result v1' })).status).toBe(200);

    const got = await call(s.url, `/cas/${casKey}`);
    expect(got.status).toBe(200);
    expect(got.body.equals(blob)).toBe(true);
    expect(got.headers.get('content-type')).toBe('application/octet-stream');
    const head = await call(s.url, `/cas/${casKey}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(blob.length));
    expect(head.body.length).toBe(0);
    expect((await call(s.url, `/ac/${acKey}`)).text).toBe('result v1');

    // AC: last writer wins. The AC and CAS namespaces are apart.
    expect((await call(s.url, `/ac/${acKey}`, { method: 'PUT', body: 'result v2' })).status).toBe(200);
    expect((await call(s.url, `/ac/${acKey}`)).text).toBe('result v2');
    expect((await call(s.url, `/cas/${acKey}`)).status).toBe(404);
    expect(await metric(s.url, 'kiln_cache_entries')).toBe(2);
    expect(await metric(s.url, 'kiln_cache_stored_bytes')).toBe(blob.length + 'result v2'.length);
    expect(await metric(s.url, 'kiln_cache_hits_total{kind="cas"}')).toBe(2);
    expect(await metric(s.url, 'kiln_cache_misses_total{kind="cas"}')).toBe(3);
  });

  it('rejects a CAS body whose sha256 is not its key, storing nothing', async () => {
    const s = await start();
    const key = sha256('the real content');
    const r = await call(s.url, `/cas/${key}`, { method: 'PUT', body: 'tampered content' });
    expect(r.status).toBe(400);
    expect(r.text).toContain(sha256('tampered content'));
    expect((await call(s.url, `/cas/${key}`)).status).toBe(404);
    expect(filesUnder(path.join(s.dir, 'data'))).toEqual([]);
    await expectNoTempFiles(s.dir);
    expect(await metric(s.url, 'kiln_cache_rejected_total{reason="digest_mismatch"}')).toBe(1);
  });

  it('refuses bodies over --max-body with 413: by Content-Length, chunked, and before 100-continue', async () => {
    const s = await start({ maxBodyBytes: 64 * 1024 });
    const big = randomBytes(200 * 1024);
    const key = sha256(big);
    // Declared too large: refused before the body is read.
    expect((await call(s.url, `/cas/${key}`, { method: 'PUT', body: big })).status).toBe(413);
    // Chunked (no length): refused once the streamed count passes the limit.
    const chunks = Array.from({ length: 8 }, (_, i) => big.subarray(i * 25_600, (i + 1) * 25_600));
    expect(await rawPut(`${s.url}/cas/${key}`, chunks)).toBe(413);
    // Expect: 100-continue: refused without the client ever being asked for the body.
    let continued = false;
    const status = await rawPut(`${s.url}/cas/${key}`, [], { 'content-length': big.length, expect: '100-continue' }, (req) => {
      continued = true;
      req.end(big);
    });
    expect(status).toBe(413);
    expect(continued).toBe(false);
    // Exactly the limit is fine, and 100-continue goes ahead when the size is acceptable.
    const fits = big.subarray(0, 64 * 1024);
    expect(
      await rawPut(`${s.url}/cas/${sha256(fits)}`, [], { 'content-length': fits.length, expect: '100-continue' }, (req) => req.end(fits)),
    ).toBe(200);

    expect((await call(s.url, `/cas/${key}`)).status).toBe(404);
    await expectNoTempFiles(s.dir);
    expect(await metric(s.url, 'kiln_cache_rejected_total{reason="too_large"}')).toBe(3);
    expect(await metric(s.url, 'kiln_cache_entries')).toBe(1);
  });

  it('answers malformed keys with 400, unknown routes with 404, wrong methods with 405', async () => {
    const s = await start();
    const key = sha256('x');
    for (const p of [
      '/ac/abc',
      `/cas/${key.toUpperCase()}`,
      `/cas/${key}0`,
      `/ac/${key.slice(1)}g`,
      '/ac/..%2F..%2Fetc%2Fpasswd',
      '/cas/',
      '/v8/artifacts/abc-def?teamId=t',
      '/v8/artifacts/abc?teamId=../etc',
      '/v8/artifacts/abc?slug=',
      `/v8/artifacts/${'a'.repeat(129)}?teamId=t`,
    ]) {
      expect([p, (await call(s.url, p)).status]).toEqual([p, 400]);
    }
    for (const p of ['/', '/ac', `/ac/${key}/x`, `/xx/${key}`, '/v8/artifacts', '/v8/artifacts/a/b?teamId=t', '/healthz/x']) {
      expect([p, (await call(s.url, p)).status]).toEqual([p, 404]);
    }
    for (const [method, p, allow] of [
      ['DELETE', `/ac/${key}`, 'GET, HEAD, PUT'],
      ['POST', `/cas/${key}`, 'GET, HEAD, PUT'],
      ['PUT', '/metrics', 'GET'],
      ['PUT', '/v8/artifacts/status', 'GET'],
      ['GET', '/v8/artifacts/events', 'POST'],
      ['POST', '/healthz', 'GET, HEAD'],
    ] as const) {
      const r = await call(s.url, p, { method, ...(method === 'GET' ? {} : { body: '' }) });
      expect([method, p, r.status, r.headers.get('allow')]).toEqual([method, p, 405, allow]);
    }
    expect(filesUnder(path.join(s.dir, 'data'))).toEqual([]);
  });

  it('answers errors on the Turborepo API as the JSON turbo parses; the Bazel paths keep text', async () => {
    const s = await start();
    const hash = 'abc123';
    const json = async (r: Promise<Reply>) => {
      const reply = await r;
      return { status: reply.status, type: reply.headers.get('content-type'), body: JSON.parse(reply.text) as unknown };
    };
    expect(await json(call(s.url, `/v8/artifacts/${hash}?teamId=t`, { method: 'PUT', body: Buffer.from('x'), token: RO }))).toEqual({
      status: 403, type: 'application/json', body: { code: 'forbidden', message: 'this token is read-only', error: { code: 'forbidden', message: 'this token is read-only' } },
    });
    expect(await json(call(s.url, `/v8/artifacts/${hash}?teamId=t`, { token: 'wrong' }))).toMatchObject({ status: 401, body: { code: 'unauthorized' } });
    expect(await json(call(s.url, `/v8/artifacts/${hash}?teamId=t`))).toMatchObject({ status: 404, body: { code: 'not_found' } });
    const bazel = await call(s.url, '/cas/0000', { token: RO });
    expect(bazel.headers.get('content-type')).toMatch(/^text\/plain/);
  });

  it('checks bearer tokens: 401 without or with a wrong one, 403 for read-only writes; /healthz is open', async () => {
    const s = await start();
    const blob = Buffer.from('guarded');
    const key = sha256(blob);
    expect((await call(s.url, `/cas/${key}`, { method: 'PUT', body: blob, token: null })).status).toBe(401);
    expect((await call(s.url, `/cas/${key}`, { method: 'PUT', body: blob, token: 'wrong' })).status).toBe(401);
    expect((await call(s.url, `/cas/${key}`, { method: 'PUT', body: blob, headers: { authorization: RW } })).status).toBe(401);
    const unauth = await call(s.url, `/cas/${key}`, { token: null });
    expect(unauth.status).toBe(401);
    expect(unauth.headers.get('www-authenticate')).toBe('Bearer');
    expect((await call(s.url, '/no/such/route', { token: 'wrong' })).status).toBe(401);
    expect((await call(s.url, '/metrics', { token: null })).status).toBe(401);

    expect((await call(s.url, `/cas/${key}`, { method: 'PUT', body: blob, token: RO })).status).toBe(403);
    expect((await call(s.url, `/cas/${key}`, { token: RO })).status).toBe(404);
    expect((await call(s.url, `/cas/${key}`, { method: 'PUT', body: blob, token: RW })).status).toBe(200);
    expect((await call(s.url, `/cas/${key}`, { token: RO })).text).toBe('guarded');
    expect((await call(s.url, `/cas/${key}`, { method: 'HEAD', token: RO })).status).toBe(200);
    expect((await call(s.url, '/metrics', { token: RO })).status).toBe(200);

    const health = await call(s.url, '/healthz', { token: null });
    expect([health.status, health.text]).toEqual([200, 'ok']);
    expect(await metric(s.url, 'kiln_cache_rejected_total{reason="unauthorized"}')).toBe(6);
    expect(await metric(s.url, 'kiln_cache_rejected_total{reason="forbidden"}')).toBe(1);

    // No token configured: open to everyone.
    const open = await start({ tokens: { readWrite: [], readOnly: [] } });
    expect((await call(open.url, `/cas/${key}`, { method: 'PUT', body: blob, token: null })).status).toBe(200);
    expect((await call(open.url, `/cas/${key}`, { token: null })).text).toBe('guarded');
  });
});

describe('kiln cache server: Turborepo remote cache API', () => {
  it('round-trips artifacts per team with their x-artifact-tag; teamId and slug namespaces are apart', async () => {
    const s = await start();
    const hash = 'ab12cd34ef56';
    const put = (query: string, body: string, tag?: string) =>
      call(s.url, `/v8/artifacts/${hash}?${query}`, {
        method: 'PUT',
        body,
        headers: { 'content-type': 'application/octet-stream', ...(tag ? { 'x-artifact-tag': tag } : {}) },
      });
    expect((await put('teamId=team_a', 'artifact of team a', 'c2lnbmF0dXJlLWE=')).status).toBe(200);
    expect((await put('slug=team_a', 'artifact of slug team_a')).status).toBe(200);

    const a = await call(s.url, `/v8/artifacts/${hash}?teamId=team_a`);
    expect([a.status, a.text, a.headers.get('x-artifact-tag')]).toEqual([200, 'artifact of team a', 'c2lnbmF0dXJlLWE=']);
    const head = await call(s.url, `/v8/artifacts/${hash}?teamId=team_a`, { method: 'HEAD' });
    expect([head.status, head.headers.get('x-artifact-tag'), head.headers.get('content-length')]).toEqual([
      200,
      'c2lnbmF0dXJlLWE=',
      String('artifact of team a'.length),
    ]);
    const slug = await call(s.url, `/v8/artifacts/${hash}?slug=team_a`);
    expect([slug.status, slug.text, slug.headers.get('x-artifact-tag')]).toEqual([200, 'artifact of slug team_a', null]);
    expect((await call(s.url, `/v8/artifacts/${hash}?teamId=team_b`)).status).toBe(404);

    expect((await call(s.url, `/v8/artifacts/${hash}`)).status).toBe(400);
    expect((await put('', 'no team')).status).toBe(400);
    expect((await put('teamId=team_a', 'bad tag', 'has space')).status).toBe(400);

    const status = await call(s.url, '/v8/artifacts/status?teamId=team_a');
    expect([status.status, JSON.parse(status.text)]).toEqual([200, { status: 'enabled' }]);
    const events = await call(s.url, '/v8/artifacts/events?teamId=team_a', {
      method: 'POST',
      body: JSON.stringify([{ sessionId: 'x', source: 'REMOTE', event: 'HIT', hash, duration: 1 }]),
      headers: { 'content-type': 'application/json' },
    });
    expect(events.status).toBe(200);
    expect(await metric(s.url, 'kiln_cache_hits_total{kind="turbo"}')).toBe(3);
  });
});

describe('kiln cache server: storage', () => {
  it('evicts the least recently accessed entries once a PUT passes --max-size', async () => {
    const s = await start({ maxBytes: 10 * 1024, maxBodyBytes: 4 * 1024 });
    const blobs = ['a', 'b', 'c', 'd'].map((c) => Buffer.alloc(3 * 1024, c));
    const keys = blobs.map((b) => sha256(b));
    const put = async (i: number) => expect((await call(s.url, `/cas/${keys[i]}`, { method: 'PUT', body: blobs[i] })).status).toBe(200);
    // Access times are in ms: keep the steps apart.
    for (const i of [0, 1, 2]) {
      await put(i);
      await sleep(5);
    }
    expect((await call(s.url, `/cas/${keys[0]}`)).status).toBe(200); // a is now more recent than b and c
    await sleep(5);
    await put(3); // 12 KiB > 10 KiB: b, the least recently accessed, goes
    const present = await Promise.all(keys.map(async (k) => (await call(s.url, `/cas/${k}`, { method: 'HEAD' })).status));
    expect(present).toEqual([200, 404, 200, 200]);
    expect(await metric(s.url, 'kiln_cache_evictions_total')).toBe(1);
    expect(await metric(s.url, 'kiln_cache_stored_bytes')).toBe(9 * 1024);
    expect(filesUnder(path.join(s.dir, 'data'))).toHaveLength(3);
  });

  it('keeps nothing of an upload whose client disconnects mid-body, and keeps serving', async () => {
    const s = await start();
    const body = randomBytes(256 * 1024);
    const key = sha256(body);
    await droppedUpload(s.url, `/cas/${key}`, body);
    await expectNoTempFiles(s.dir);
    expect((await call(s.url, `/cas/${key}`)).status).toBe(404);
    expect(filesUnder(path.join(s.dir, 'data'))).toEqual([]);
    expect((await call(s.url, '/healthz', { token: null })).status).toBe(200);
    expect((await call(s.url, `/cas/${key}`, { method: 'PUT', body })).status).toBe(200);
    expect((await call(s.url, `/cas/${key}`)).body.equals(body)).toBe(true);
  });

  it('keeps serving while 200 hostile clients trickle headers, send garbage or lie about their bodies', async () => {
    const s = await start({ maxBodyBytes: 64 * 1024 });
    const { port } = new URL(s.url);
    const hostile: net.Socket[] = [];
    const open = (first: string) =>
      new Promise<net.Socket>((resolve) => {
        const socket = net.connect(Number(port), '127.0.0.1', () => {
          socket.write(first);
          resolve(socket);
        });
        socket.on('error', () => undefined);
        hostile.push(socket);
      });
    try {
      await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          open(
            [
              'GET /cas/', // slowloris: a request line never finished
              `PUT /cas/${'a'.repeat(64)} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${RW}\r\nContent-Length: 1000000\r\n\r\npartial`, // a body that never comes
              '\u0000\u0001 not http at all\r\n\r\n',
              `GET /v8/artifacts/${'b'.repeat(10)}?teamId=${'x'.repeat(5000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
            ][i % 4]!,
          ),
        ),
      );
      // Meanwhile the team's clients are served, and what they stored is intact.
      const bodies = Array.from({ length: 20 }, (_, i) => randomBytes(1024 + i));
      const puts = await Promise.all(bodies.map((b) => call(s.url, `/cas/${sha256(b)}`, { method: 'PUT', body: b })));
      expect(puts.map((r) => r.status)).toEqual(bodies.map(() => 200));
      const gets = await Promise.all(bodies.map((b) => call(s.url, `/cas/${sha256(b)}`)));
      expect(gets.every((r, i) => r.body.equals(bodies[i]!))).toBe(true);
      expect((await call(s.url, '/healthz', { token: null })).status).toBe(200);
    } finally {
      for (const socket of hostile) socket.destroy();
    }
    await expectNoTempFiles(s.dir);
  });

  it('ends 10 concurrent PUTs of one key well: one valid entry', async () => {
    const s = await start();
    const blob = randomBytes(300 * 1024);
    const key = sha256(blob);
    const acKey = sha256('contended action');
    const acBodies = Array.from({ length: 10 }, (_, i) => `action result ${i}`);
    const statuses = await Promise.all([
      ...Array.from({ length: 10 }, () => call(s.url, `/cas/${key}`, { method: 'PUT', body: blob })),
      ...acBodies.map((body) => call(s.url, `/ac/${acKey}`, { method: 'PUT', body })),
    ]);
    expect(statuses.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect((await call(s.url, `/cas/${key}`)).body.equals(blob)).toBe(true);
    expect(acBodies).toContain((await call(s.url, `/ac/${acKey}`)).text);
    expect(await metric(s.url, 'kiln_cache_entries')).toBe(2);
    expect(filesUnder(path.join(s.dir, 'data'))).toHaveLength(2);
    await expectNoTempFiles(s.dir);
  });

  it('lets an upload in flight finish on close, and serves its entries again after a restart', async () => {
    const s = await start({ shutdownGraceMs: 3_000 });
    const cas = Buffer.from('persisted blob');
    expect((await call(s.url, `/cas/${sha256(cas)}`, { method: 'PUT', body: cas })).status).toBe(200);
    expect(
      (await call(s.url, '/v8/artifacts/beef?slug=web', { method: 'PUT', body: 'turbo bytes', headers: { 'x-artifact-tag': 'tag1' } })).status,
    ).toBe(200);

    const acKey = sha256('slow action');
    const slow = http.request(`${s.url}/ac/${acKey}`, { method: 'PUT', headers: { authorization: `Bearer ${RW}`, 'content-length': 10 } });
    const response = new Promise<number>((resolve, reject) => {
      slow.on('response', (res) => resolve(res.statusCode!)).on('error', reject);
    });
    slow.write('first');
    await sleep(50);
    const t0 = Date.now();
    const closed = stop(s);
    await sleep(100);
    slow.end('-last');
    expect(await response).toBe(200);
    await closed;
    expect(Date.now() - t0).toBeLessThan(2_000);
    await expect(call(s.url, '/healthz')).rejects.toThrow('ECONNREFUSED');

    const again = await start({ dir: s.dir });
    expect((await call(again.url, `/cas/${sha256(cas)}`)).text).toBe('persisted blob');
    expect((await call(again.url, `/ac/${acKey}`)).text).toBe('first-last');
    const turbo = await call(again.url, '/v8/artifacts/beef?slug=web');
    expect([turbo.text, turbo.headers.get('x-artifact-tag')]).toEqual(['turbo bytes', 'tag1']);
    expect(await metric(again.url, 'kiln_cache_entries')).toBe(3);
  });
});

describe('kiln cache server: load with injected faults', () => {
  it('serves 2,000 mixed requests from 8 clients; afterwards every blob matches its key and nothing is lost', async () => {
    const s = await start({ maxBodyBytes: 64 * 1024 });
    const TOTAL = 2_000;
    const CLIENTS = 8;
    // Eight clients interleave as the scheduler pleases: no seed would make a run replayable.
    const random = Math.random;
    /** What the server acknowledged (200 to a PUT): it must all be there at the end. */
    const stored = new Map<string, Buffer>();
    const dropped: string[] = [];
    const counts = { injected: 0, rejectedAsExpected: 0, unexpected: [] as string[] };
    let next = 0;

    const expectStatus = (what: string, got: number, want: number): void => {
      if (got !== want) counts.unexpected.push(`${what}: ${got}, expected ${want}`);
    };
    const knownPath = (): string | undefined => {
      if (stored.size === 0) return undefined;
      const paths = [...stored.keys()];
      return paths[Math.floor(random() * paths.length)];
    };

    async function one(i: number): Promise<void> {
      const body = randomBytes(1 + Math.floor(random() * 16 * 1024));
      const roll = random();
      if (i % 50 === 7) {
        counts.injected++;
        const r = await call(s.url, `/cas/${sha256(body)}`, { method: 'PUT', body: Buffer.concat([body, Buffer.from('!')]) });
        expectStatus('corrupted CAS body', r.status, 400);
        if (r.status === 400) counts.rejectedAsExpected++;
      } else if (i % 50 === 23) {
        counts.injected++;
        const p = knownPath() ?? `/cas/${sha256(body)}`;
        const r = await call(s.url, p, { method: roll < 0.5 ? 'GET' : 'PUT', token: 'stolen-guess', ...(roll < 0.5 ? {} : { body }) });
        expectStatus('wrong token', r.status, 401);
        if (r.status === 401) counts.rejectedAsExpected++;
      } else if (i % 50 === 41) {
        counts.injected++;
        const p = `/cas/${sha256(body)}`;
        dropped.push(p);
        await droppedUpload(s.url, p, body);
      } else if (roll < 0.35) {
        const p = `/cas/${sha256(body)}`;
        const r = await call(s.url, p, { method: 'PUT', body });
        expectStatus('CAS PUT', r.status, 200);
        if (r.status === 200) stored.set(p, body);
      } else if (roll < 0.45) {
        const p = `/ac/${sha256(`action ${i}`)}`;
        const r = await call(s.url, p, { method: 'PUT', body });
        expectStatus('AC PUT', r.status, 200);
        if (r.status === 200) stored.set(p, body);
      } else if (roll < 0.75) {
        const p = knownPath();
        if (!p) return;
        const r = await call(s.url, p);
        expectStatus('GET', r.status, 200);
        if (!r.body.equals(stored.get(p)!)) counts.unexpected.push(`GET ${p}: wrong bytes`);
      } else if (roll < 0.9) {
        const p = knownPath();
        if (!p) return;
        const r = await call(s.url, p, { method: 'HEAD' });
        expectStatus('HEAD', r.status, 200);
        expectStatus('HEAD length', Number(r.headers.get('content-length')), stored.get(p)!.length);
      } else {
        expectStatus('GET of an absent key', (await call(s.url, `/ac/${sha256(`never stored ${i}`)}`)).status, 404);
      }
    }

    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        for (let i = next++; i < TOTAL; i = next++) await one(i);
      }),
    );
    const elapsedMs = Date.now() - t0;
    expect(counts.unexpected).toEqual([]);
    await expectNoTempFiles(s.dir);
    for (const p of dropped) if (!stored.has(p)) expect((await call(s.url, p, { method: 'HEAD' })).status).toBe(404);

    let lost = 0;
    const toCheck = [...stored];
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        for (let entry = toCheck.pop(); entry; entry = toCheck.pop()) {
          const r = await call(s.url, entry[0]);
          if (r.status !== 200 || !r.body.equals(entry[1])) lost++;
        }
      }),
    );
    await stop(s);

    // On disk: every CAS file hashes to its name; files and index rows match one to one, sizes included.
    const dataDir = path.join(s.dir, 'data');
    const files = filesUnder(dataDir);
    for (const rel of files.filter((f) => f.startsWith('cas/'))) {
      expect(sha256(fs.readFileSync(path.join(dataDir, rel)))).toBe(path.basename(rel));
    }
    const db = new Database(path.join(s.dir, 'index.db'), { readonly: true });
    const rows = db.prepare('SELECT namespace, key, size FROM entries').all() as { namespace: string; key: string; size: number }[];
    db.close();
    expect(rows.map((r) => path.join(r.namespace, r.key.slice(0, 2), r.key)).sort()).toEqual(files);
    for (const r of rows) expect(fs.statSync(path.join(dataDir, r.namespace, r.key.slice(0, 2), r.key)).size).toBe(r.size);

    process.stdout.write(
      `server load: ${TOTAL} requests from ${CLIENTS} clients in ${elapsedMs} ms; failures injected ${counts.injected}, ` +
        `rejected as expected ${counts.rejectedAsExpected}, entries ${rows.length}, entries lost ${lost}\n`,
    );
    expect(rows.length).toBe(stored.size);
    expect(lost).toBe(0);
  });
});

describe('kiln cache serve (CLI)', () => {
  it('serves from a child process, never prints a token, and exits 0 on SIGTERM', async () => {
    const cacheDir = tempDir('kiln-serve-cli-');
    const serve = spawnServe(['--cache-dir', cacheDir, '--max-size', '1M', '--max-body', '100k'], {
      HOME: cacheDir,
      KILN_SERVE_TOKENS: RW,
      KILN_SERVE_READONLY_TOKENS: RO,
    });
    try {
      const url = await serve.url;
      const blob = Buffer.from('from the CLI');
      expect((await call(url, `/cas/${sha256(blob)}`, { method: 'PUT', body: blob })).status).toBe(200);
      expect((await call(url, `/cas/${sha256(blob)}`, { token: RO })).text).toBe('from the CLI');
      expect((await call(url, `/cas/${sha256(blob)}`, { token: 'nope' })).status).toBe(401);
      expect((await call(url, `/ac/${sha256('x')}`, { method: 'PUT', body: randomBytes(200 * 1024) })).status).toBe(413);
      // --dir defaults to <cache-dir>/server.
      expect(filesUnder(path.join(cacheDir, 'server', 'data'))).toEqual([`cas/${sha256(blob).slice(0, 2)}/${sha256(blob)}`]);
    } finally {
      serve.child.kill('SIGTERM');
    }
    expect(await serve.exited).toBe(0);
    expect(serve.out.stdout).toBe(`kiln cache serve: listening on ${await serve.url}\n`);
    expect(serve.out.stderr).toBe('kiln cache serve: SIGTERM, finishing requests in flight\n');
  });

  it('warns when open, and exits 2 on bad options', async () => {
    const cwd = tempDir('kiln-serve-cli-');
    const bad = await kiln(cwd, ['cache', 'serve', '--listen', 'localhost']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("kiln: cache serve: --listen expects HOST:PORT (e.g. 127.0.0.1:9090, [::1]:9090), got 'localhost'");
    const sizes = await kiln(cwd, ['cache', 'serve', '--max-size', '1M', '--max-body', '2M']);
    expect(sizes.exitCode).toBe(2);
    expect(sizes.stderr).toContain('--max-body (2M) exceeds --max-size (1M)');

    const serve = spawnServe(['--dir', path.join(cwd, 'store')], { HOME: cwd });
    const url = await serve.url;
    const taken = await kiln(cwd, ['cache', 'serve', '--listen', new URL(url).host, '--dir', path.join(cwd, 'other')]);
    expect(taken.exitCode).toBe(2);
    expect(taken.stderr).toContain(`kiln: cache serve: cannot listen on ${new URL(url).host}: EADDRINUSE\n  hint: pick another --listen address or port`);
    serve.child.kill('SIGINT');
    expect(await serve.exited).toBe(0);
    expect(serve.out.stderr).toContain('kiln cache serve: warning: no token configured');
  });

  it('leaves no entry when killed with SIGKILL mid-upload; the restart sweeps its temp file', async () => {
    const dir = path.join(tempDir('kiln-serve-kill-'), 'store');
    const serve = spawnServe(['--dir', dir], { HOME: dir, KILN_SERVE_TOKENS: RW });
    const body = randomBytes(512 * 1024);
    const socket = await halfUpload(await serve.url, `/cas/${sha256(body)}`, body);
    const deadline = Date.now() + 3_000;
    while (filesUnder(path.join(dir, 'tmp')).length === 0 && Date.now() < deadline) await sleep(10);
    serve.child.kill('SIGKILL');
    await serve.exited;
    socket.destroy();
    expect(filesUnder(path.join(dir, 'tmp'))).toHaveLength(1);
    // A temp file of a live process (pid 1) is not ours to remove.
    fs.writeFileSync(path.join(dir, 'tmp', 'put-1-0123456789ab'), 'in flight elsewhere');

    const s = await start({ dir });
    expect(filesUnder(path.join(dir, 'tmp'))).toEqual(['put-1-0123456789ab']);
    expect((await call(s.url, `/cas/${sha256(body)}`, { method: 'HEAD' })).status).toBe(404);
    expect(await metric(s.url, 'kiln_cache_entries')).toBe(0);
    expect(filesUnder(path.join(dir, 'data'))).toEqual([]);
  });
});
