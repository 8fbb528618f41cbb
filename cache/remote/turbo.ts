import { crypto } from '../../engine/lazy-builtins.js';
import { createReadStream } from 'node:fs';
import { copyFile, link, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import * as tar from 'tar';
import { referencedBlobs, type ActionEntry } from '../local/action-index.js';
import { CorruptBlobError, tempName } from '../local/cas.js';
import type { LocalCache } from '../local/store.js';
import { MAX_ENTRY_BYTES, parseRemoteEntry } from './entry.js';
import { HttpClient } from './http.js';
import { RemoteError, SignatureMismatchError, UntrustedContentError, type RemoteCache } from './remote.js';

const ENTRY_FILE = 'kiln-entry.json';
const BLOB_MEMBER = /^blobs\/[0-9a-f]{64}$/;

export interface TurboOptions {
  team: string;
  /** HMAC key for x-artifact-tag; when set, downloads without a valid tag are refused. */
  signingKey?: string;
  /** Largest artifact accepted from the remote. */
  maxArtifactBytes: number;
}

/**
 * The Turborepo remote cache API (/v8/artifacts/:hash, Vercel or
 * turborepo-remote-cache). One artifact per key: a gzipped tar holding the
 * action entry and the blobs it names. Archives from the remote are
 * untrusted: every member must be one of those names and a plain file, or
 * the whole artifact is refused. Blob members stream into the CAS as they
 * arrive (each verified against its digest, so harmless even in a refused
 * artifact); the entry is trusted last.
 */
export class TurboCache implements RemoteCache {
  readonly traffic = { bytesDown: 0, bytesUp: 0 };

  constructor(
    private readonly http: HttpClient,
    private readonly opts: TurboOptions,
  ) {}

  get description(): string {
    return `turbo ${this.http.origin} (team ${this.opts.team})`;
  }

  private path(key: string): string {
    return `v8/artifacts/${key}?teamId=${encodeURIComponent(this.opts.team)}`;
  }

  async download(key: string, local: LocalCache): Promise<ActionEntry | undefined> {
    const res = await this.http.request('GET', this.path(key));
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (!res.ok || !res.body) return this.http.fail(res, 'GET', this.path(key));
    // One pass over the stream: allowed blob members go straight into the CAS,
    // where each is verified against its own digest (so storing one is harmless
    // even if the artifact turns out bad); the entry is trusted only after the
    // signature and every blob it names have checked out.
    const mac = this.opts.signingKey ? this.tagger(key) : undefined;
    const forbidden: string[] = [];
    const stored: Promise<unknown>[] = [];
    const entryChunks: Buffer[] = [];
    let entrySeen = false;
    let entryBytes = 0;
    let size = 0;
    const limit = this.opts.maxArtifactBytes;
    const parser = new tar.Parser({
      strict: true,
      onReadEntry: (e) => {
        if (e.type === 'File' && e.path === ENTRY_FILE) {
          entrySeen = true;
          e.on('data', (chunk: Buffer) => {
            entryBytes += chunk.length;
            if (entryBytes <= MAX_ENTRY_BYTES) entryChunks.push(chunk); // an entry is a small manifest
          });
        } else if (e.type === 'File' && BLOB_MEMBER.test(e.path)) {
          const digest = e.path.slice('blobs/'.length);
          stored.push(local.putStream(e as unknown as Readable, digest).catch((err: unknown) => err));
        } else {
          if (!(e.type === 'Directory' && (e.path === 'blobs' || e.path === 'blobs/'))) forbidden.push(`${e.type} '${e.path}'`);
          e.resume();
        }
      },
    });
    try {
      await pipeline(
        Readable.fromWeb(res.body as WebReadableStream),
        new Transform({
          transform(chunk: Buffer, _enc, done) {
            size += chunk.length;
            if (size > limit) return done(new RemoteError(`artifact ${key} is over the ${limit} byte limit`));
            mac?.update(chunk);
            done(null, chunk);
          },
        }),
        parser as unknown as NodeJS.WritableStream,
      );
    } catch (e) {
      await Promise.all(stored);
      if (e instanceof RemoteError) throw e;
      const message = (e as Error).message;
      // A broken archive is bad content; a broken connection is the remote's failure.
      throw /terminated|ECONNRESET|aborted|socket/i.test(message)
        ? new RemoteError(`GET artifact ${key}: body interrupted (${message})`)
        : new UntrustedContentError(`artifact ${key} is not a valid archive: ${message}`);
    }
    this.traffic.bytesDown += size;
    const results = await Promise.all(stored);
    if (mac) verifyTag(res.headers.get('x-artifact-tag'), mac.digest(), key);
    if (forbidden.length > 0) throw new UntrustedContentError(`artifact holds forbidden members: ${forbidden.slice(0, 3).join(', ')}`);
    const failed = results.find((r) => r instanceof Error);
    if (failed instanceof CorruptBlobError) throw new UntrustedContentError(failed.message);
    if (failed) throw failed;
    if (!entrySeen) throw new UntrustedContentError(`artifact ${key} has no ${ENTRY_FILE}`);
    if (entryBytes > MAX_ENTRY_BYTES) throw new UntrustedContentError(`artifact ${key}: ${ENTRY_FILE} is over ${MAX_ENTRY_BYTES} bytes`);
    const entry = parseRemoteEntry(Buffer.concat(entryChunks), key);
    for (const blob of referencedBlobs(entry)) {
      if (!local.hasBlob(blob.digest)) throw new UntrustedContentError(`artifact ${key} lacks blob ${blob.digest}`);
    }
    return entry;
  }

  async upload(key: string, entry: ActionEntry, local: LocalCache): Promise<void> {
    const staging = join(local.tmpDir, tempName('turbo-'));
    await mkdir(join(staging, 'in', 'blobs'), { recursive: true });
    try {
      await writeFile(join(staging, 'in', ENTRY_FILE), JSON.stringify(entry));
      for (const blob of referencedBlobs(entry)) {
        const dest = join(staging, 'in', 'blobs', blob.digest);
        // A hard link costs nothing; fall back to a copy across filesystems.
        await link(local.blobPath(blob.digest), dest).catch(() => copyFile(local.blobPath(blob.digest), dest));
      }
      const archive = join(staging, 'artifact.tgz');
      await tar.c({ cwd: join(staging, 'in'), file: archive, gzip: true, portable: true, noDirRecurse: false }, [ENTRY_FILE, 'blobs']);
      const size = (await stat(archive)).size;
      const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
      if (this.opts.signingKey) {
        const mac = this.tagger(key);
        for await (const chunk of createReadStream(archive)) mac.update(chunk as Buffer);
        headers['x-artifact-tag'] = mac.digest('base64');
      }
      const put = await this.http.request('PUT', this.path(key), {
        body: Readable.toWeb(createReadStream(archive)) as ReadableStream,
        length: size,
        headers,
      });
      await put.body?.cancel();
      if (!put.ok) return this.http.fail(put, 'PUT', this.path(key));
      this.traffic.bytesUp += size;
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  /** Turborepo's artifact tag: HMAC-SHA256 over the hash, the team id, then the artifact bytes. */
  private tagger(key: string) {
    return crypto().createHmac('sha256', this.opts.signingKey!).update(key).update(this.opts.team);
  }
}

function verifyTag(header: string | null, expected: Buffer, key: string): void {
  const got = header ? Buffer.from(header, 'base64') : Buffer.alloc(0);
  if (got.length !== expected.length || !crypto().timingSafeEqual(got, expected)) {
    throw new SignatureMismatchError(`artifact ${key} has ${header ? 'an invalid' : 'no'} x-artifact-tag signature`);
  }
}
