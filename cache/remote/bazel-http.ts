import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { referencedBlobs, type ActionEntry } from '../local/action-index.js';
import { CorruptBlobError } from '../local/cas.js';
import type { LocalCache } from '../local/store.js';
import { MAX_ENTRY_BYTES, parseRemoteEntry } from './entry.js';
import { HttpClient, readLimited } from './http.js';
import { RemoteError, UntrustedContentError, type RemoteCache } from './remote.js';


/**
 * The Bazel HTTP cache protocol (nginx WebDAV, bazel-remote, kiln's server):
 * kiln's action entries (JSON) under /ac/<key>, output blobs under
 * /cas/<sha256>. Blobs go up before the entry naming them, so a reader never
 * finds an entry whose blobs are missing.
 */
export class BazelHttpCache implements RemoteCache {
  readonly traffic = { bytesDown: 0, bytesUp: 0 };

  constructor(private readonly http: HttpClient) {}

  get description(): string {
    return `bazel-http ${this.http.origin}`;
  }

  async download(key: string, local: LocalCache): Promise<ActionEntry | undefined> {
    const res = await this.http.request('GET', `ac/${key}`);
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (!res.ok) return this.http.fail(res, 'GET', `ac/${key}`);
    const bytes = await readLimited(res, MAX_ENTRY_BYTES, 'action entry');
    this.traffic.bytesDown += bytes.length;
    const entry = parseRemoteEntry(bytes, key);
    for (const blob of referencedBlobs(entry)) {
      if (local.hasBlob(blob.digest)) continue;
      const got = await this.http.request('GET', `cas/${blob.digest}`);
      if (got.status === 404) {
        await got.body?.cancel();
        throw new UntrustedContentError(`blob ${blob.digest} named by entry ${key} is missing on the remote`);
      }
      if (!got.ok || !got.body) return this.http.fail(got, 'GET', `cas/${blob.digest}`);
      try {
        const ref = await local.putStream(Readable.fromWeb(got.body as WebReadableStream), blob.digest);
        this.traffic.bytesDown += ref.size;
      } catch (e) {
        if (e instanceof CorruptBlobError) throw new UntrustedContentError(e.message);
        throw new RemoteError(`GET cas/${blob.digest}: body interrupted (${(e as Error).message})`);
      }
    }
    return entry;
  }

  async upload(key: string, entry: ActionEntry, local: LocalCache): Promise<void> {
    for (const blob of referencedBlobs(entry)) {
      const head = await this.http.request('HEAD', `cas/${blob.digest}`);
      await head.body?.cancel();
      if (head.ok) continue;
      const put = await this.http.request('PUT', `cas/${blob.digest}`, {
        body: Readable.toWeb(createReadStream(local.blobPath(blob.digest))) as ReadableStream,
        length: blob.size,
        headers: { 'content-type': 'application/octet-stream' },
      });
      await put.body?.cancel();
      if (!put.ok) return this.http.fail(put, 'PUT', `cas/${blob.digest}`);
      this.traffic.bytesUp += blob.size;
    }
    const body = Buffer.from(JSON.stringify(entry));
    const put = await this.http.request('PUT', `ac/${key}`, {
      body,
      length: body.length,
      headers: { 'content-type': 'application/json' },
    });
    await put.body?.cancel();
    if (!put.ok) return this.http.fail(put, 'PUT', `ac/${key}`);
    this.traffic.bytesUp += body.length;
  }
}
