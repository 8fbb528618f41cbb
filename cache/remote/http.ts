import { RemoteError } from './remote.js';

export interface HttpOptions {
  /** Base URL; paths are resolved against it. */
  baseUrl: string;
  token?: string;
  /** The whole request, transfer included. */
  timeoutMs: number;
  /**
   * Until the response starts (connect and first byte), for requests without
   * a body: a remote that accepts and then never answers costs this, once
   * (the session then drops the remote for the build), not `timeoutMs`.
   */
  responseTimeoutMs: number;
}

/**
 * fetch with a bearer token, a timeout per request, and errors that never
 * carry the token (only method, URL without credentials, and status).
 */
export class HttpClient {
  private readonly base: URL;

  constructor(private readonly opts: HttpOptions) {
    this.base = new URL(opts.baseUrl.endsWith('/') ? opts.baseUrl : `${opts.baseUrl}/`);
  }

  get origin(): string {
    return `${this.base.origin}${this.base.pathname}`;
  }

  async request(
    method: 'GET' | 'HEAD' | 'PUT',
    path: string,
    init: { body?: RequestInit['body']; headers?: Record<string, string>; length?: number } = {},
  ): Promise<Response> {
    const url = new URL(path, this.base);
    const headers: Record<string, string> = { ...init.headers };
    if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
    if (init.length !== undefined) headers['content-length'] = String(init.length);
    // An upload's response only starts once its body is sent: only the whole-request bound applies to it.
    const firstByte = new AbortController();
    const timer = init.body === undefined && this.opts.responseTimeoutMs < this.opts.timeoutMs ? setTimeout(() => firstByte.abort(), this.opts.responseTimeoutMs) : undefined;
    try {
      return await fetch(url, {
        method,
        headers,
        ...(init.body !== undefined ? { body: init.body, duplex: 'half' } : {}),
        signal: AbortSignal.any([firstByte.signal, AbortSignal.timeout(this.opts.timeoutMs)]),
      } as RequestInit);
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      const reason = firstByte.signal.aborted
        ? `no response within ${this.opts.responseTimeoutMs} ms`
        : err.name === 'TimeoutError'
          ? `timed out after ${this.opts.timeoutMs} ms`
          : (err.cause?.code ?? err.message);
      throw new RemoteError(`${method} ${url.origin}${url.pathname}: ${reason}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A non-success status as a RemoteError (the body is drained so the connection is reused). */
  async fail(res: Response, method: string, path: string): Promise<never> {
    await res.body?.cancel();
    const url = new URL(path, this.base);
    const auth = res.status === 401 || res.status === 403 ? ' (check the token)' : '';
    throw new RemoteError(`${method} ${url.origin}${url.pathname}: HTTP ${res.status}${auth}`);
  }
}

/** Reads a body of at most `limit` bytes (an action entry), refusing larger ones. */
export async function readLimited(res: Response, limit: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > limit) {
    await res.body?.cancel();
    throw new RemoteError(`${what} is ${declared} bytes, over the ${limit} byte limit`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body ?? []) {
    size += (chunk as Uint8Array).length;
    if (size > limit) throw new RemoteError(`${what} is over the ${limit} byte limit`);
    chunks.push(Buffer.from(chunk as Uint8Array));
  }
  return Buffer.concat(chunks);
}
