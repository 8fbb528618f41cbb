import fs from 'node:fs';
import path from 'node:path';
import { RACY_MARGIN_MS } from '../stamps.js';

/**
 * Git's index (.git/index, versions 2 to 4) read for one purpose: to name
 * the blob a checked-out file holds without reading it. A file whose stat
 * (size, mtime, ctime, inode) is what the index recorded when git wrote it
 * still holds what git put there, as `git status` concludes. Entries git
 * itself would not trust, or that do not describe the working tree file,
 * are left out:
 * - racy ones (modified within RACY_MARGIN_MS of the index being written),
 * - assume-unchanged, skip-worktree and intent-to-add entries, and
 *   unmerged ones (stage > 0),
 * - anything but regular files.
 * An index kiln cannot read exactly (a split index, a sparse index, SHA-256
 * object ids, an unknown version) is not used at all.
 */
export class GitIndex {
  private constructor(
    /** Repo-relative posix path → entry. */
    private readonly entries: Map<string, IndexEntry>,
    /** The workspace's path inside the repo ('' at its top, else with a trailing '/'). */
    private readonly prefix: string,
  ) {}

  /** The index of the repository containing `dir`, or undefined when there is none kiln can use. */
  static forDir(dir: string): GitIndex | undefined {
    const found = findGitDir(dir);
    if (!found) return undefined;
    let text: Buffer;
    let indexMtimeMs: number;
    try {
      if (/^\s*objectformat\s*=\s*sha256/im.test(readIfExists(path.join(found.commonDir, 'config')))) return undefined;
      const indexFile = path.join(found.gitDir, 'index');
      indexMtimeMs = fs.statSync(indexFile).mtimeMs;
      text = fs.readFileSync(indexFile);
    } catch {
      return undefined;
    }
    const entries = parseIndex(text, indexMtimeMs);
    if (!entries) return undefined;
    const rel = path.relative(found.workTree, dir).split(path.sep).join('/');
    return new GitIndex(entries, rel === '' ? '' : `${rel}/`);
  }

  /**
   * `<blob id>:<size>` of every file kiln may trust (the size tells apart
   * checkouts of one blob through different filters, e.g. line endings).
   */
  blobKeys(): string[] {
    return [...this.entries.values()].map((e) => `${e.oid}:${e.size}`);
  }

  /**
   * `<blob id>:<size>` of the workspace-relative file `rel`, when `st` (its
   * stat) proves the file still holds the checkout git recorded; undefined
   * otherwise.
   */
  blobOf(rel: string, st: fs.Stats): string | undefined {
    const e = this.entries.get(this.prefix + rel);
    if (!e || !st.isFile()) return undefined;
    const sameTime = (ms: number, sec: number, nsec: number) => Math.abs(ms - (sec * 1000 + nsec / 1e6)) < 0.001;
    const unchanged =
      e.size === st.size % 2 ** 32 &&
      e.ino === st.ino % 2 ** 32 &&
      sameTime(st.mtimeMs, e.mtimeSec, e.mtimeNsec) &&
      sameTime(st.ctimeMs, e.ctimeSec, e.ctimeNsec);
    return unchanged ? `${e.oid}:${e.size}` : undefined;
  }
}

interface IndexEntry {
  oid: string;
  size: number;
  ino: number;
  mtimeSec: number;
  mtimeNsec: number;
  ctimeSec: number;
  ctimeNsec: number;
}

const REGULAR_FILE = 0o100000;
const FLAG_ASSUME_VALID = 0x8000;
const FLAG_EXTENDED = 0x4000;
const EXT_SKIP_WORKTREE = 0x4000;
const EXT_INTENT_TO_ADD = 0x2000;

/** The trusted entries of an index file's bytes; undefined when the index is not one kiln reads exactly. */
export function parseIndex(buf: Buffer, indexMtimeMs: number): Map<string, IndexEntry> | undefined {
  if (buf.length < 12 || buf.toString('latin1', 0, 4) !== 'DIRC') return undefined;
  const version = buf.readUInt32BE(4);
  if (version < 2 || version > 4) return undefined;
  const count = buf.readUInt32BE(8);
  const entries = new Map<string, IndexEntry>();
  const trustedBefore = indexMtimeMs - RACY_MARGIN_MS;
  let at = 12;
  let previous = '';
  for (let i = 0; i < count; i++) {
    if (at + 62 > buf.length) return undefined;
    const ctimeSec = buf.readUInt32BE(at);
    const ctimeNsec = buf.readUInt32BE(at + 4);
    const mtimeSec = buf.readUInt32BE(at + 8);
    const mtimeNsec = buf.readUInt32BE(at + 12);
    const ino = buf.readUInt32BE(at + 20);
    const mode = buf.readUInt32BE(at + 24);
    const size = buf.readUInt32BE(at + 36);
    const oid = buf.toString('hex', at + 40, at + 60);
    const flags = buf.readUInt16BE(at + 60);
    let cursor = at + 62;
    let extended = 0;
    if (flags & FLAG_EXTENDED) {
      if (version < 3) return undefined;
      extended = buf.readUInt16BE(cursor);
      cursor += 2;
    }
    let name: string;
    if (version === 4) {
      // The path is the previous one minus N trailing bytes, plus a NUL-terminated suffix.
      let strip = 0;
      let byte: number;
      let shift = 0;
      do {
        byte = buf[cursor++]!;
        strip = shift === 0 ? byte & 0x7f : ((strip + 1) << 7) | (byte & 0x7f);
        shift++;
      } while (byte & 0x80);
      const end = buf.indexOf(0, cursor);
      if (end < 0) return undefined;
      const prevBytes = Buffer.from(previous, 'utf8');
      if (strip > prevBytes.length) return undefined;
      name = Buffer.concat([prevBytes.subarray(0, prevBytes.length - strip), buf.subarray(cursor, end)]).toString('utf8');
      at = end + 1;
    } else {
      const end = buf.indexOf(0, cursor);
      if (end < 0) return undefined;
      name = buf.toString('utf8', cursor, end);
      // Entries are padded with 1 to 8 NULs to a multiple of 8 bytes from their start.
      const length = end - at;
      at += Math.floor((length + 8) / 8) * 8;
    }
    previous = name;
    const stage = (flags >> 12) & 0x3;
    const trusted =
      (mode & 0o170000) === REGULAR_FILE &&
      stage === 0 &&
      !(flags & FLAG_ASSUME_VALID) &&
      !(extended & (EXT_SKIP_WORKTREE | EXT_INTENT_TO_ADD)) &&
      mtimeSec * 1000 + mtimeNsec / 1e6 < trustedBefore &&
      ctimeSec * 1000 + ctimeNsec / 1e6 < trustedBefore;
    if (trusted) entries.set(name, { oid, size, ino, mtimeSec, mtimeNsec, ctimeSec, ctimeNsec });
  }
  // Extensions: a split index ('link') keeps entries elsewhere, a sparse one ('sdir') folds directories.
  while (at + 8 <= buf.length - 20) {
    const signature = buf.toString('latin1', at, at + 4);
    if (signature === 'link' || signature === 'sdir') return undefined;
    at += 8 + buf.readUInt32BE(at + 4);
  }
  return entries;
}

/** The git dir (per worktree), the common dir (config) and the work tree above `dir`, if any. */
function findGitDir(dir: string): { gitDir: string; commonDir: string; workTree: string } | undefined {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const dotGit = path.join(d, '.git');
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(dotGit);
    } catch {
      st = undefined;
    }
    if (st?.isDirectory()) return { gitDir: dotGit, commonDir: dotGit, workTree: d };
    if (st?.isFile()) {
      // A linked worktree or a submodule: `gitdir: <path>`, and its `commondir` names the shared one.
      const m = /^gitdir:\s*(.+?)\s*$/m.exec(readIfExists(dotGit));
      if (!m) return undefined;
      const gitDir = path.resolve(d, m[1]!);
      const common = readIfExists(path.join(gitDir, 'commondir')).trim();
      return { gitDir, commonDir: common ? path.resolve(gitDir, common) : gitDir, workTree: d };
    }
    if (path.dirname(d) === d) return undefined;
  }
}

function readIfExists(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
