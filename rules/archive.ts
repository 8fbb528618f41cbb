import { crypto } from '../engine/lazy-builtins.js';
import fs from 'node:fs';
import path from 'node:path';
import { compareBytes } from './tree.js';

/**
 * Deterministic .tar.gz archives (package and bundle): the same entries give
 * the same bytes, whoever builds them, wherever, whenever.
 *
 * - entries sorted by path (bytes), parent directories added;
 * - one fixed mtime; uid/gid 0, uname/gname empty; no atime/ctime/dev/ino;
 * - modes normalised: directories and executable files 0755, other files
 *   0644, symlinks 0777 (their target kept verbatim);
 * - POSIX ustar headers, a pax header only for what ustar cannot hold
 *   (long or non-ASCII paths);
 * - gzip from node:zlib, level 9, no file name and mtime 0 in its header.
 *   The deflate stream depends on zlib's version, so rules put
 *   `process.versions.zlib` into their key.
 */

export type ArchiveEntry =
  | { path: string; type: 'dir' }
  | { path: string; type: 'file'; source: string | Buffer; executable: boolean }
  | { path: string; type: 'symlink'; target: string };

/** Every entry of a directory tree, paths relative to it (posix). Devices, fifos and sockets are an error. */
export function treeEntries(root: string): ArchiveEntry[] {
  const entries: ArchiveEntry[] = [];
  const stack = [''];
  for (let rel = stack.pop(); rel !== undefined; rel = stack.pop()) {
    for (const d of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const child = rel === '' ? d.name : `${rel}/${d.name}`;
      const abs = path.join(root, child);
      if (d.isDirectory()) {
        entries.push({ path: child, type: 'dir' });
        stack.push(child);
      } else if (d.isFile()) {
        entries.push({ path: child, type: 'file', source: abs, executable: (fs.statSync(abs).mode & 0o111) !== 0 });
      } else if (d.isSymbolicLink()) {
        entries.push({ path: child, type: 'symlink', target: fs.readlinkSync(abs) });
      } else {
        throw new Error(`cannot archive '${child}': not a file, directory or symlink`);
      }
    }
  }
  return entries;
}

/**
 * Writes `entries` under `prefix` (e.g. "nova-1.0/", or "" for none) as a
 * deterministic .tar.gz at `file`.
 */
export async function writeTarGz(file: string, entries: ArchiveEntry[], opts: { prefix: string; mtime: number }): Promise<void> {
  // Loaded on first use: startup stays small.
  const [{ Header, Pax }, { Readable }, { pipeline }, zlib] = await Promise.all([
    import('tar'), import('node:stream'), import('node:stream/promises'), import('node:zlib'),
  ]);
  const mtime = new Date(opts.mtime * 1000);
  const prefix = opts.prefix.replace(/\/*$/, '');
  const byPath = new Map<string, ArchiveEntry>();
  const add = (e: ArchiveEntry) => {
    const full = prefix === '' ? e.path : `${prefix}/${e.path}`;
    const prior = byPath.get(full);
    if (prior && !(prior.type === 'dir' && e.type === 'dir')) throw new Error(`two archive entries named '${full}'`);
    byPath.set(full, { ...e, path: full });
    for (let dir = path.posix.dirname(full); dir !== '.'; dir = path.posix.dirname(dir)) {
      if (!byPath.has(dir)) byPath.set(dir, { path: dir, type: 'dir' });
    }
  };
  for (const e of entries) add(e);
  const sorted = [...byPath.values()].sort((a, b) => compareBytes(a.path, b.path));

  async function* blocks(): AsyncGenerator<Buffer> {
    for (const e of sorted) {
      const content = e.type === 'file' && typeof e.source !== 'string' ? e.source : undefined;
      const size = e.type === 'file' ? (content?.length ?? fs.statSync(e.source as string).size) : 0;
      const fields = {
        path: e.type === 'dir' ? `${e.path}/` : e.path,
        mode: e.type === 'symlink' ? 0o777 : e.type === 'dir' || e.executable ? 0o755 : 0o644,
        uid: 0,
        gid: 0,
        size,
        mtime,
        type: e.type === 'dir' ? ('Directory' as const) : e.type === 'symlink' ? ('SymbolicLink' as const) : ('File' as const),
        ...(e.type === 'symlink' ? { linkpath: e.target } : {}),
        uname: '',
        gname: '',
      };
      const header = new Header(fields);
      if (header.encode()) yield new Pax({ path: fields.path, linkpath: fields.linkpath, size, mtime }).encode();
      yield header.block!;
      if (e.type !== 'file') continue;
      let written = 0;
      if (content) {
        yield content;
        written = content.length;
      } else {
        for await (const chunk of fs.createReadStream(e.source as string)) {
          written += (chunk as Buffer).length;
          yield chunk as Buffer;
        }
      }
      if (written !== size) throw new Error(`'${e.path}' changed while it was archived`);
      if (size % 512 !== 0) yield Buffer.alloc(512 - (size % 512));
    }
    yield Buffer.alloc(1024); // end of archive: two zero blocks
  }

  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  await pipeline(Readable.from(blocks()), zlib.createGzip({ level: 9 }), fs.createWriteStream(file));
}

/** sha256 and size of a file, streamed. */
export async function fileDigest(file: string): Promise<{ sha256: string; size: number }> {
  const hash = crypto().createHash('sha256');
  let size = 0;
  for await (const chunk of fs.createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

/** Goes into the key of every node writing archives: the deflate bytes depend on it. */
export const ARCHIVE_INGREDIENTS = { format: 'kiln-tar-gz@1', zlib: process.versions.zlib ?? 'unknown' };
