import { sha256Hex } from '../../engine/keys/hash/sha256.js';

export interface SeriesEntry {
  /** Patch file name as written, relative to the series file's directory. */
  name: string;
  /** Leading path components to strip (`-p1` is the default). */
  strip: number;
  /** 1-based line of the series file, for error messages. */
  line: number;
}

/**
 * Parses a quilt series file: one patch per line, optionally followed by
 * `-pN`; `#` starts a comment (at the start of a line, or after
 * whitespace); blank lines are ignored. Other options are errors, not
 * silently dropped: they would change what is applied.
 */
export function parseSeries(text: string): { ok: true; entries: SeriesEntry[] } | { ok: false; error: string } {
  const entries: SeriesEntry[] = [];
  const seen = new Map<string, number>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    const content = line.replace(/(^|\s)#.*$/, '').trim();
    if (content === '') continue;
    const [name, ...opts] = content.split(/\s+/) as [string, ...string[]];
    let strip = 1;
    for (const opt of opts) {
      const p = /^-p(\d+)$/.exec(opt);
      if (p) strip = Number(p[1]);
      else return { ok: false, error: `line ${i + 1}: unsupported option '${opt}' after '${name}' (only -pN is supported)` };
    }
    const first = seen.get(name);
    if (first !== undefined) return { ok: false, error: `line ${i + 1}: '${name}' is listed twice (first on line ${first})` };
    seen.set(name, i + 1);
    entries.push({ name, strip, line: i + 1 });
  }
  return { ok: true, entries };
}

const MBOX_FROM = /^From [0-9a-f]{40} /;
const INDEX_LINE = /^index [0-9a-f]{4,}\.\.[0-9a-f]{4,}( [0-7]{6})?$/;
/** `-- ` then a git version (always starts with a digit; a diff line never does) at the very end. */
const VERSION_TRAILER = /\n-- \n\d[^\n]*\n*$/;

/**
 * Whether a patch is in `git format-patch` (mail) form, for `git am`, or a
 * plain diff, for `git apply`. Mail form: an mbox `From <sha>` line, or
 * `From:` and `Subject:` headers before the first diff.
 */
export function isMailPatch(text: string): boolean {
  if (MBOX_FROM.test(text)) return true;
  const firstDiff = text.search(/^(diff |--- |Index: )/m);
  const head = firstDiff === -1 ? text : text.slice(0, firstDiff);
  return /^From: /m.test(head) && /^Subject: /m.test(head);
}

/**
 * The part of a patch that decides what applying it does. Dropped: the
 * mbox `From <sha> <date>` line, `index <sha>..<sha> <mode>` lines, the
 * trailing git version signature and, in mail form, the `[PATCH n/m]`
 * subject prefix and everything between the `---` that ends the message
 * and the first diff (diffstat, notes), all of which `git am` ignores.
 * So re-exporting the same commits (from a rebased branch, with another
 * git, with the series renumbered) gives the same text.
 */
export function normalisePatch(text: string): string {
  const mail = isMailPatch(text);
  const out: string[] = [];
  let state: 'message' | 'stat' | 'diff' = mail ? 'message' : 'diff';
  for (const line of text.replace(VERSION_TRAILER, '\n').split('\n')) {
    if (MBOX_FROM.test(line)) {
      state = mail ? 'message' : state;
      continue;
    }
    if (INDEX_LINE.test(line)) continue;
    if (state === 'message') {
      if (line === '---') {
        state = 'stat';
        out.push(line);
        continue;
      }
      if (/^diff /.test(line)) state = 'diff';
      out.push(line.replace(/^Subject: (\[[^\]]*\]\s*)+/, 'Subject: '));
      continue;
    }
    if (state === 'stat') {
      if (!/^(diff |Index: )/.test(line)) continue;
      state = 'diff';
    }
    // A new message in a multi-patch mbox starts with its headers (no diff line starts with 'F').
    if (mail && /^From: /.test(line)) state = 'message';
    out.push(line);
  }
  return out.join('\n');
}

/** sha256 of the normalised patch, byte for byte (a patch need not be UTF-8). */
export function patchDigest(raw: Buffer): string {
  return sha256Hex(Buffer.from(normalisePatch(raw.toString('latin1')), 'latin1'));
}

export interface Hunk {
  /** Path after stripping, as git reports it. */
  file: string;
  oldStart: number;
  /** The hunk, header included. */
  text: string;
}

/** The hunks of a unified diff, by file, for conflict reports. */
export function parseHunks(text: string, strip: number): Hunk[] {
  const hunks: Hunk[] = [];
  const lines = text.split('\n');
  let oldFile: string | null = null;
  let file: string | null = null;
  const stripPath = (p: string): string | null => {
    const clean = p.replace(/\t.*$/, '').replace(/^"(.*)"$/, '$1');
    if (clean === '/dev/null') return null;
    return clean.split('/').slice(strip).join('/');
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('--- ') && lines[i + 1]?.startsWith('+++ ')) {
      oldFile = stripPath(line.slice(4));
      file = stripPath(lines[i + 1]!.slice(4)) ?? oldFile;
      i++;
      continue;
    }
    const h = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/.exec(line);
    if (!h || file === null) continue;
    let oldLeft = h[2] === undefined ? 1 : Number(h[2]);
    let newLeft = h[4] === undefined ? 1 : Number(h[4]);
    const body = [line];
    for (let j = i + 1; j < lines.length && (oldLeft > 0 || newLeft > 0); j++) {
      const l = lines[j]!;
      if (l.startsWith('\\')) {
        body.push(l);
        continue;
      }
      const c = l[0];
      if (c === ' ' || l === '') {
        oldLeft--;
        newLeft--;
      } else if (c === '-') oldLeft--;
      else if (c === '+') newLeft--;
      else break;
      body.push(l);
      i = j;
    }
    hunks.push({ file, oldStart: Number(h[1]), text: body.join('\n') });
  }
  return hunks;
}

/**
 * Every path a patch may read or write (after stripping `strip`
 * components), from `diff --git`, `---`/`+++`, `rename`/`copy` lines.
 * Over-collecting (a hunk line that looks like a header) is harmless; what
 * matters is that no path the patch touches is missed. `null` when none is
 * found, or one cannot be read (nothing safe to go by). Paths climbing out (`..`) are dropped: git
 * refuses to apply those anyway.
 */
export function touchedPaths(raw: Buffer, strip: number): string[] | null {
  const found = new Set<string>();
  let unsure = false;
  const add = (p: string | null, stripIt: boolean) => {
    if (p === null) unsure = true;
    if (p === null || p === '/dev/null') return;
    const parts = p.split('/');
    const rel = (stripIt ? parts.slice(strip) : parts).join('/');
    if (rel === '' || rel.startsWith('/') || rel.split('/').includes('..')) return;
    found.add(rel);
  };
  for (const line of raw.toString('latin1').split('\n')) {
    let m = /^diff --git ("(?:[^"\\]|\\.)*"|\S+) ("(?:[^"\\]|\\.)*"|\S+)$/.exec(line);
    if (m) {
      add(unquote(m[1]!), true);
      add(unquote(m[2]!), true);
      continue;
    }
    m = /^(?:---|\+\+\+) ("(?:[^"\\]|\\.)*"|[^\t]+)/.exec(line);
    if (m) {
      add(unquote(m[1]!.replace(/\s+$/, '')), true);
      continue;
    }
    m = /^(?:rename|copy) (?:from|to) (.+)$/.exec(line);
    if (m) add(unquote(m[1]!), false);
  }
  return found.size > 0 && !unsure ? [...found].sort() : null;
}

/** A path as git writes it (latin1-decoded bytes), C-quoted or not, to a JS string (UTF-8). */
function unquote(s: string): string | null {
  if (!s.startsWith('"')) return Buffer.from(s, 'latin1').toString('utf8');
  if (!s.endsWith('"') || s.length < 2) return null;
  const bytes: number[] = [];
  const body = s.slice(1, -1);
  const named: Record<string, number> = { a: 7, b: 8, t: 9, n: 10, v: 11, f: 12, r: 13, '"': 34, '\\': 92 };
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      bytes.push(c.charCodeAt(0) & 0xff);
      continue;
    }
    const next = body[i + 1];
    if (next === undefined) return null;
    const oct = /^[0-7]{3}/.exec(body.slice(i + 1));
    if (oct) {
      bytes.push(parseInt(oct[0], 8));
      i += 3;
    } else if (named[next] !== undefined) {
      bytes.push(named[next]!);
      i += 1;
    } else return null;
  }
  return Buffer.from(bytes).toString('utf8');
}
