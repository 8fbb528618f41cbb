import { createHmac, timingSafeEqual } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { link, mkdir, readFile, rm, writeFile, copyFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import * as tar from 'tar';
import { referencedBlobs, type ActionEntry } from '../local/action-index.js';
import { CorruptBlobError, tempName } from '../local/cas.js';
import type { LocalCache } from '../local/store.js';
import { parseRemoteEntry } from './entry.js';
import { HttpClient } from './http.js';
import { RemoteError, UntrustedContentError, type RemoteCache } from './remote.js';

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
 * the whole artifact is refused before anything is extracted.
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
    const staging = join(local.tmpDir, tempName('turbo-'));
    await mkdir(staging);
    try {
      const archive = join(staging, 'artifact.tgz');
      const mac = this.opts.signingKey ? this.tagger(key) : undefined;
      let size = 0;
      const limit = this.opts.maxArtifactBytes;
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
        createWriteStream(archive),
      ).catch((e: unknown) => {
        throw e instanceof RemoteError ? e : new RemoteError(`GET artifact ${key}: body interrupted (${(e as Error).message})`);
      });
      this.traffic.bytesDown += size;
      if (mac) verifyTag(res.headers.get('x-artifact-tag'), mac.digest(), key);
      const extracted = join(staging, 'x');
      await mkdir(extracted);
      try {
        await checkMembers(archive);
        await tar.x({ file: archive, cwd: extracted, strict: true, preserveOwner: false, noChmod: true });
      } catch (e) {
        if (e instanceof UntrustedContentError) throw e;
        throw new UntrustedContentError(`artifact ${key} is not a valid archive: ${(e as Error).message}`);
      }
      const entryFile = join(extracted, ENTRY_FILE);
      if (!(await exists(entryFile))) throw new UntrustedContentError(`artifact ${key} has no ${ENTRY_FILE}`);
      const entry = parseRemoteEntry(await readFile(entryFile));
      for (const blob of referencedBlobs(entry)) {
        if (local.hasBlob(blob.digest)) continue;
        const file = join(extracted, 'blobs', blob.digest);
        if (!(await exists(file))) throw new UntrustedContentError(`artifact ${key} lacks blob ${blob.digest}`);
        try {
          await local.putStream(createReadStream(file), blob.digest);
        } catch (e) {
          if (e instanceof CorruptBlobError) throw new UntrustedContentError(e.message);
          throw e;
        }
      }
      return entry;
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
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
    return createHmac('sha256', this.opts.signingKey!).update(key).update(this.opts.team);
  }
}

function verifyTag(header: string | null, expected: Buffer, key: string): void {
  const got = header ? Buffer.from(header, 'base64') : Buffer.alloc(0);
  if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
    throw new UntrustedContentError(`artifact ${key} has ${header ? 'an invalid' : 'no'} x-artifact-tag signature`);
  }
}

/** Lists the archive and refuses anything but the entry file, the blobs dir and blob files. */
async function checkMembers(archive: string): Promise<void> {
  const bad: string[] = [];
  await tar.t({
    file: archive,
    onReadEntry: (e) => {
      const name = e.path;
      const ok =
        (e.type === 'File' && (name === ENTRY_FILE || BLOB_MEMBER.test(name))) ||
        (e.type === 'Directory' && (name === 'blobs' || name === 'blobs/'));
      if (!ok) bad.push(`${e.type} '${name}'`);
      e.resume();
    },
  });
  if (bad.length > 0) throw new UntrustedContentError(`artifact holds forbidden members: ${bad.slice(0, 3).join(', ')}`);
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}
