import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { Auth, type Access, type Tokens } from './auth.js';
import { BodyTooLarge, limitedBody, linger } from './body.js';
import { Metrics, type RejectReason } from './metrics.js';
import { HEALTH_PATH, METHODS, parseRoute, type BlobRoute } from './routes.js';
import { Store } from './store.js';

export interface ServerOptions {
  /** Storage: artifacts, temp files and the index. */
  dir: string;
  host: string;
  /** 0 picks a free port; the URL returned has the real one. */
  port: number;
  /** Total stored bytes kept under this by LRU eviction after each upload. */
  maxBytes: number;
  /** Larger uploads are refused with 413; at most maxBytes. */
  maxBodyBytes: number;
  tokens: Tokens;
  /** How long close() lets requests in flight finish before cutting their connections. */
  shutdownGraceMs?: number;
  /** Unexpected failures (answered 500); default: one line on stderr. */
  onError?: (err: unknown) => void;
}

export interface RunningServer {
  /** `http://HOST:PORT`, with the real port. */
  url: string;
  /** Stops accepting, lets requests in flight finish (up to the grace period), closes the index. */
  close(): Promise<void>;
}

/** A client silent this long mid-request or mid-download is gone; its connection (and upload) is dropped. */
const IDLE_TIMEOUT_MS = 60_000;
const SHUTDOWN_GRACE_MS = 5_000;
/** turbo's usage events are small JSON arrays; nothing of them is kept. */
const EVENTS_BODY_LIMIT = 1 << 20;
/** turbo's tag is a base64 HMAC; bound what is stored and echoed. */
const TAG = /^[\x21-\x7e]{1,1024}$/;

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  if (opts.maxBodyBytes > opts.maxBytes) {
    throw new Error(`max body (${opts.maxBodyBytes} bytes) exceeds max size (${opts.maxBytes} bytes): such an upload could never be kept`);
  }
  const store = new Store(opts.dir, opts.maxBytes);
  const ctx: Context = {
    store,
    auth: new Auth(opts.tokens),
    metrics: new Metrics(),
    maxBodyBytes: opts.maxBodyBytes,
    onError: opts.onError ?? ((err) => process.stderr.write(`kiln cache serve: ${(err as Error)?.message ?? String(err)}\n`)),
  };

  const inflight = new Set<Promise<void>>();
  const dispatch = (expectsContinue: boolean) => (req: IncomingMessage, res: ServerResponse) => {
    const done = handle(req, res, ctx, expectsContinue).finally(() => inflight.delete(done));
    inflight.add(done);
  };
  // Uploads of up to --max-body may legitimately take longer than Node's
  // 5-minute whole-request limit; the idle timeout catches stalled clients.
  const server = createServer({ requestTimeout: 0 }, dispatch(false));
  // Answering `Expect: 100-continue` ourselves lets a refused upload
  // (too large, no token) be refused before its body is sent at all.
  server.on('checkContinue', dispatch(true));
  server.setTimeout(IDLE_TIMEOUT_MS);

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    store.close();
    throw err;
  }
  const { address, port } = server.address() as AddressInfo;
  const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      const cut = setTimeout(() => server.closeAllConnections(), opts.shutdownGraceMs ?? SHUTDOWN_GRACE_MS);
      // server.close() only closes the connections idle at that moment; each
      // request answered afterwards leaves another idle keep-alive connection
      // that would hold close() until the grace period ends.
      const reap = setInterval(() => server.closeIdleConnections(), 50);
      await stopped;
      clearTimeout(cut);
      clearInterval(reap);
      // Cut connections fail their handlers' streams; let them clean up before the index closes.
      await Promise.allSettled([...inflight]);
      store.close();
    })());
  return { url, close };
}

interface Context {
  store: Store;
  auth: Auth;
  metrics: Metrics;
  maxBodyBytes: number;
  onError: (err: unknown) => void;
}

async function handle(req: IncomingMessage, res: ServerResponse, ctx: Context, expectsContinue: boolean): Promise<void> {
  const method = req.method ?? 'GET';
  res.once('finish', () => {
    ctx.metrics.request(method, res.statusCode);
    linger(req);
  });
  try {
    await route(req, res, ctx, method, expectsContinue);
  } catch (err) {
    // The client went away mid-request: nobody to answer, and the store has cleaned up.
    if (req.socket.destroyed) return;
    ctx.onError(err);
    if (res.headersSent) res.destroy();
    else send(res, 500, 'internal error\n');
  }
}

async function route(req: IncomingMessage, res: ServerResponse, ctx: Context, method: string, expectsContinue: boolean): Promise<void> {
  const url = req.url ?? '/';
  if (url === HEALTH_PATH || url.startsWith(`${HEALTH_PATH}?`)) {
    if (method !== 'GET' && method !== 'HEAD') return notAllowed(res, ['GET', 'HEAD']);
    return send(res, 200, 'ok');
  }
  // Before routing: a client without a token learns nothing, not even which paths exist.
  const access = ctx.auth.check(req.headers.authorization);
  if (!access) return reject(res, ctx, 'unauthorized', 401, 'missing or unknown bearer token\n', { 'WWW-Authenticate': 'Bearer' });

  const r = parseRoute(url);
  if (r.type === 'error') return send(res, r.status, `${r.message}\n`);
  if (!METHODS[r.type].includes(method)) return notAllowed(res, METHODS[r.type]);
  switch (r.type) {
    case 'metrics':
      return send(res, 200, ctx.metrics.render(ctx.store.totals()), 'text/plain; version=0.0.4; charset=utf-8');
    case 'turbo-status':
      return send(res, 200, '{"status":"enabled"}', 'application/json');
    case 'turbo-events':
      return drainEvents(req, res, ctx, expectsContinue);
    case 'blob':
      return method === 'PUT' ? upload(req, res, ctx, r, access, expectsContinue) : download(res, ctx, r, method === 'HEAD');
  }
}

async function download(res: ServerResponse, ctx: Context, r: BlobRoute, headOnly: boolean): Promise<void> {
  const artifact = await ctx.store.open(r.namespace, r.key);
  ctx.metrics.lookup(r.kind, artifact !== undefined);
  if (!artifact) return send(res, 404, 'not found\n');
  res.writeHead(200, {
    'Content-Type': 'application/octet-stream',
    'Content-Length': artifact.size,
    ...(r.kind === 'turbo' && artifact.tag !== null ? { 'x-artifact-tag': artifact.tag } : {}),
  });
  if (headOnly) {
    await artifact.handle.close();
    res.end();
    return;
  }
  const stream = artifact.handle.createReadStream();
  try {
    await pipeline(stream, res);
  } finally {
    ctx.metrics.bytesSent += stream.bytesRead;
  }
}

async function upload(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: Context,
  r: BlobRoute,
  access: Access,
  expectsContinue: boolean,
): Promise<void> {
  if (access !== 'read-write') return reject(res, ctx, 'forbidden', 403, 'this token is read-only\n');
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > ctx.maxBodyBytes) return tooLarge(res, ctx);
  const tag = r.kind === 'turbo' ? req.headers['x-artifact-tag'] : undefined;
  if (tag !== undefined && (typeof tag !== 'string' || !TAG.test(tag))) {
    return send(res, 400, 'x-artifact-tag must be 1-1024 printable ASCII characters\n');
  }
  if (expectsContinue) res.writeContinue();
  try {
    const body = limitedBody(req, ctx.maxBodyBytes, (n) => (ctx.metrics.bytesReceived += n));
    const result = await ctx.store.put(r.namespace, r.key, body, {
      ...(r.verifyDigest ? { expectDigest: r.key } : {}),
      ...(tag !== undefined ? { tag } : {}),
    });
    if (!result.stored) {
      return reject(res, ctx, 'digest_mismatch', 400, `body sha256 is ${result.digest}, not the key\n`);
    }
    ctx.metrics.evictions += result.evicted;
    send(res, 200, '');
  } catch (err) {
    if (err instanceof BodyTooLarge) return tooLarge(res, ctx);
    throw err;
  }
}

/** The events are usage telemetry for Vercel; a self-hosted cache has no use for them. */
async function drainEvents(req: IncomingMessage, res: ServerResponse, ctx: Context, expectsContinue: boolean): Promise<void> {
  if (expectsContinue) res.writeContinue();
  try {
    for await (const _ of limitedBody(req, EVENTS_BODY_LIMIT, (n) => (ctx.metrics.bytesReceived += n))) {
      // discarded
    }
  } catch (err) {
    if (err instanceof BodyTooLarge) return tooLarge(res, ctx);
    throw err;
  }
  send(res, 200, '');
}

function tooLarge(res: ServerResponse, ctx: Context): void {
  reject(res, ctx, 'too_large', 413, `request body exceeds --max-body (${ctx.maxBodyBytes} bytes)\n`);
}

function reject(res: ServerResponse, ctx: Context, reason: RejectReason, status: number, message: string, headers: Record<string, string> = {}): void {
  ctx.metrics.reject(reason);
  send(res, status, message, 'text/plain; charset=utf-8', headers);
}

function notAllowed(res: ServerResponse, allowed: readonly string[]): void {
  send(res, 405, 'method not allowed\n', 'text/plain; charset=utf-8', { Allow: allowed.join(', ') });
}

/** Error codes of the Turborepo API's JSON error bodies, by status. */
const TURBO_ERROR_CODES: Record<number, string> = {
  400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 405: 'method_not_allowed', 413: 'payload_too_large', 500: 'internal_error',
};

/**
 * Writes a whole response. An error on the Turborepo API (`/v8/...`) is the
 * JSON body turbo's client parses (`{code, message}`, also nested under
 * `error` as Vercel's API writes it); the Bazel and plain paths keep text.
 */
function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8', headers: Record<string, string> = {}): void {
  if (status >= 400 && (res.req?.url ?? '').startsWith('/v8/')) {
    const error = { code: TURBO_ERROR_CODES[status] ?? 'error', message: body.trim() };
    body = JSON.stringify({ ...error, error });
    type = 'application/json';
  }
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}
