import path from 'node:path';
import { emptyAccesses, type FileAccesses } from './accesses.js';

/**
 * Reads the output of strace as tracedCommand runs it (`-f -xx -y`) into
 * file accesses, in the order they happened: a path the command wrote before
 * reading it is its own product, not an input, and a path it probed and then
 * created was not missing for any reason outside it.
 *
 * Placing a relative path: the `*at` calls carry their directory (`-y`
 * prints `AT_FDCWD</cwd>` and `3</dir>`); the others are resolved against
 * the process's working directory, learnt from every `AT_FDCWD<...>` it
 * prints, from chdir/fchdir, and inherited by a child at fork.
 */
export function parseStrace(text: string, initialCwd: string): FileAccesses {
  const acc = emptyAccesses();
  // A process's working directory; threads (CLONE_FS) share one cell, so a chdir in one moves them all.
  const cwd = new Map<number, { dir: string }>();
  const pending = new Map<number, string>();
  /** The process that last began a fork: a child may print before its parent learns its pid. */
  let forking: number | undefined;
  for (const raw of text.split('\n')) {
    const m = /^(\d+) +(.*)$/.exec(raw);
    if (!m) continue;
    const pid = Number(m[1]);
    if (!cwd.has(pid)) cwd.set(pid, { dir: (forking !== undefined && cwd.get(forking)?.dir) || initialCwd });
    let line = m[2]!;
    if (line.endsWith('<unfinished ...>')) {
      if (/^(clone3?|v?fork)\(/.test(line)) forking = pid;
      pending.set(pid, line.slice(0, -'<unfinished ...>'.length));
      continue;
    }
    const resumed = /^<\.\.\. \w+ resumed>(.*)$/.exec(line);
    if (resumed) {
      line = (pending.get(pid) ?? '') + resumed[1]!;
      pending.delete(pid);
    }
    const call = splitCall(line);
    if (call) apply(acc, cwd, pid, call);
  }
  // A probe for a path the command itself then created says nothing about the world outside it.
  for (const p of acc.writes) acc.absent.delete(p);
  return acc;
}

interface Call {
  name: string;
  args: Token[];
  /** The raw arguments, for flags. */
  rawArgs: string;
  ok: boolean;
  /** ENOENT or ENOTDIR: the path (or a directory on it) does not exist. */
  missing: boolean;
  /** The number returned (a descriptor, a child pid), if any. */
  value: number | undefined;
}

/** A path-like argument: a descriptor with the path strace names, or a string. */
type Token = { fd: string | undefined } | { str: string };

function splitCall(line: string): Call | undefined {
  // `name(args) = ret`; strace pads `)` and `=` apart on resumed lines. Greedy: the last `) =` is the return.
  const m = /^(\w+)\((.*)\) +=(.*)$/.exec(line);
  if (!m) return undefined;
  const [, name, rawArgs, retPart] = m as unknown as [string, string, string, string];
  const ret = retPart.trim();
  const value = /^-?\d+/.exec(ret);
  const ok = value !== null && !ret.startsWith('-1 ');
  return { name, args: tokens(rawArgs), rawArgs, ok, missing: /^-1 (ENOENT|ENOTDIR) /.test(ret), value: value ? Number(value[0]) : undefined };
}

/** Descriptors (`AT_FDCWD<...>`, `3<...>`, or a bare number where a directory descriptor goes) and strings, in order. */
function tokens(args: string): Token[] {
  const out: Token[] = [];
  // A directory descriptor strace could not name is a bare number right before a path string.
  const re = /(AT_FDCWD|-?\d+)<((?:\\x[0-9a-f]{2})*)>|"((?:\\x[0-9a-f]{2})*)"|(?:^|, )(?:AT_FDCWD|-?\d+)(?=, ")/g;
  for (let m = re.exec(args); m; m = re.exec(args)) {
    if (m[3] !== undefined) out.push({ str: hex(m[3]) });
    else if (m[2] !== undefined) out.push({ fd: hex(m[2]) });
    else out.push({ fd: undefined });
  }
  return out;
}

/** `\x2f\x74` → "/t". Bytes that are not UTF-8 decode to U+FFFD, which placing catches. */
function hex(s: string): string {
  if (s === '') return '';
  return Buffer.from(s.replace(/\\x/g, ''), 'hex').toString('utf8');
}

const READ_ONLY = (flags: string) => !/O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND/.test(flags);

/** Calls whose first argument (or `dirfd, path`) is looked at, not read or changed. */
const STAT_CALLS = new Set(['stat', 'lstat', 'stat64', 'lstat64', 'newfstatat', 'fstatat64', 'statx', 'access', 'faccessat', 'faccessat2', 'readlink', 'readlinkat', 'getxattr', 'lgetxattr', 'listxattr', 'llistxattr']);
/** Calls that change the path they name (the last one, for the two-path calls). */
const WRITE_CALLS = new Set(['mkdir', 'mkdirat', 'rmdir', 'unlink', 'unlinkat', 'chmod', 'fchmodat', 'fchmodat2', 'chown', 'lchown', 'fchownat', 'truncate', 'truncate64', 'utime', 'utimes', 'utimensat', 'futimesat', 'mknod', 'mknodat', 'setxattr', 'lsetxattr', 'removexattr', 'lremovexattr']);

/** Calls that take `dirfd, path` (the two-path ones twice). */
const AT_CALLS = new Set([
  'openat', 'openat2', 'newfstatat', 'fstatat64', 'statx', 'faccessat', 'faccessat2', 'readlinkat', 'mkdirat', 'unlinkat', 'fchmodat', 'fchmodat2',
  'fchownat', 'utimensat', 'futimesat', 'mknodat', 'renameat', 'renameat2', 'linkat', 'execveat',
]);

function apply(acc: FileAccesses, cwd: Map<number, { dir: string }>, pid: number, call: Call): void {
  const cell = cwd.get(pid)!;
  // Every AT_FDCWD<...> says where the process is now.
  const atCwd = /AT_FDCWD<((?:\\x[0-9a-f]{2})*)>/.exec(call.rawArgs);
  if (atCwd) cell.dir = hex(atCwd[1]!);
  const here = cell.dir;
  const { name, args } = call;
  const at = AT_CALLS.has(name);
  /** The `i`th path of the call, placed. */
  const pathAt = (i: number) => place(acc, here, at ? dirArg(args, i) : undefined, str(args, i));
  if (name === 'clone' || name === 'clone3' || name === 'fork' || name === 'vfork') {
    if (call.ok && call.value !== undefined && call.value > 0) cwd.set(call.value, /CLONE_FS/.test(call.rawArgs) ? cell : { dir: here });
    return;
  }
  if (name === 'chdir' || name === 'fchdir') {
    const to = name === 'chdir' ? pathAt(0) : fdPath(args[0]);
    if (call.ok && to) cell.dir = to;
    else if (to) note(acc, call, to, 'stat');
    return;
  }
  if (name === 'getdents' || name === 'getdents64') {
    const dir = fdPath(args[0]);
    if (dir) record(acc, 'listings', dir);
    return;
  }
  if (name === 'open' || name === 'openat' || name === 'openat2' || name === 'creat') {
    const target = pathAt(0);
    if (!target) return;
    const flags = name === 'creat' ? 'O_CREAT' : call.rawArgs;
    if (!READ_ONLY(flags)) {
      // O_RDWR of an existing file may read it first: an input unless the command made it.
      if (call.ok && /O_RDWR/.test(flags) && !/O_TRUNC|O_CREAT/.test(flags)) record(acc, 'reads', target);
      if (call.ok) record(acc, 'writes', target);
      return;
    }
    note(acc, call, target, /O_DIRECTORY/.test(flags) ? 'stat' : 'read');
    return;
  }
  if (name === 'execve' || name === 'execveat') {
    const target = pathAt(0);
    if (target) note(acc, call, target, 'read');
    if (target && call.ok && !acc.writes.has(target)) acc.execs.add(target);
    return;
  }
  if (STAT_CALLS.has(name)) {
    // `newfstatat(3</x>, "", ..., AT_EMPTY_PATH)` looks at a file already open: seen when it was opened.
    const target = str(args, 0) === '' ? undefined : pathAt(0);
    if (target) note(acc, call, target, 'stat');
    return;
  }
  if (WRITE_CALLS.has(name)) {
    const target = pathAt(0);
    if (target && call.ok) record(acc, 'writes', target);
    return;
  }
  if (name === 'rename' || name === 'renameat' || name === 'renameat2' || name === 'link' || name === 'linkat') {
    const [from, to] = [pathAt(0), pathAt(1)];
    if (!call.ok) return;
    if (from) record(acc, name.startsWith('link') ? 'reads' : 'writes', from);
    if (to) record(acc, 'writes', to);
    return;
  }
  if (name === 'symlink' || name === 'symlinkat') {
    // The first string is the link's text, not a path looked at.
    const link = place(acc, here, name === 'symlinkat' ? dirArg(args, 1) : undefined, str(args, 1));
    if (link && call.ok) record(acc, 'writes', link);
  }
}

const fdPath = (t: Token | undefined): string | undefined => (t && 'fd' in t && t.fd !== undefined ? path.normalize(t.fd) : undefined);

/** A successful look at a path counts as `kind`; a failed one as a probe for something absent (or, for other errors, a stat). */
function note(acc: FileAccesses, call: Call, p: string, kind: 'read' | 'stat'): void {
  if (call.ok) record(acc, kind === 'read' ? 'reads' : 'stats', p);
  else if (call.missing) record(acc, 'absent', p);
  else record(acc, 'stats', p); // EACCES, EINVAL (readlink of a plain file), ELOOP: it is there
}

function record(acc: FileAccesses, kind: 'reads' | 'stats' | 'listings' | 'absent' | 'writes', p: string): void {
  // What the command wrote itself is its product: later looks at it are not inputs.
  if (kind !== 'writes' && acc.writes.has(p)) return;
  acc[kind].add(p);
}

const str = (args: Token[], i: number): string | undefined => {
  let n = 0;
  for (const t of args) if ('str' in t && n++ === i) return t.str;
  return undefined;
};

/** The directory descriptor of the `i`th path: the descriptor between the path before it and it. */
const dirArg = (args: Token[], i: number): Token | undefined => {
  let n = 0;
  for (const t of args) {
    if ('str' in t) n++;
    else if (n === i) return t;
    if (n > i) break;
  }
  return undefined;
};

/** An absolute, normalised path; undefined (and noted) when it cannot be placed. */
function place(acc: FileAccesses, cwd: string, dir: Token | undefined, p: string | undefined): string | undefined {
  if (p === undefined) return undefined;
  if (p.includes('\uFFFD')) {
    acc.unplaced.push(`a path that is not UTF-8: ${JSON.stringify(p)}`);
    return undefined;
  }
  if (path.isAbsolute(p)) return path.normalize(p);
  let base = cwd;
  if (dir && 'fd' in dir) {
    if (dir.fd === undefined) {
      acc.unplaced.push(`'${p}' relative to a descriptor strace could not name`);
      return undefined;
    }
    base = dir.fd;
  }
  return path.resolve(base, p);
}
