import { childProcess } from '../../engine/lazy-builtins.js';
import fs from 'node:fs';
import path from 'node:path';
import { git, gitEnv, gitReason, GitRuleError } from './exec.js';

export interface TreeEntry {
  mode: string;
  type: 'blob' | 'tree' | 'commit';
  oid: string;
  path: string;
}

type Opts = { signal?: AbortSignal };

/** `git ls-tree -z` of `tree` (recursive unless told), restricted to `paths` when given. */
export async function listTree(gitDir: string, tree: string, o: Opts & { recursive: boolean; paths?: string[] }): Promise<TreeEntry[]> {
  const args = ['--git-dir', gitDir, 'ls-tree', '-z', '--full-tree', ...(o.recursive ? ['-r'] : []), tree];
  if (o.paths) args.push('--', ...o.paths);
  const r = await git(args, o);
  if (r.code !== 0) throw new GitRuleError(`cannot list tree ${tree}: ${gitReason(r.stderr)}`);
  const out = r.stdout.toString('utf8'); // not trimmed: a path may end in a space
  const entries: TreeEntry[] = [];
  for (const rec of out.split('\0')) {
    if (rec === '') continue;
    const tab = rec.indexOf('\t');
    const [mode, type, oid] = rec.slice(0, tab).split(' ');
    entries.push({ mode: mode!, type: type as TreeEntry['type'], oid: oid!, path: rec.slice(tab + 1) });
  }
  return entries;
}

/**
 * Writes the blobs of `tree` (or of its `paths`) under `outDir`, at their
 * repository paths. The bytes are the blobs' own: no .gitattributes
 * conversion, filter, export-ignore or export-subst applies (unlike `git
 * archive` or a checkout), so the same tree always gives the same files.
 * Files are 0644 or 0755, symlinks are symlinks, submodules (gitlinks)
 * are empty directories.
 */
export async function exportTree(gitDir: string, tree: string, outDir: string, o: Opts & { paths?: string[] }): Promise<number> {
  const entries = await listTree(gitDir, tree, { ...o, recursive: true, ...(o.paths ? { paths: o.paths } : {}) });
  const made = new Set<string>();
  const mkdir = (dir: string) => {
    if (made.has(dir)) return;
    fs.mkdirSync(dir, { recursive: true });
    made.add(dir);
  };
  mkdir(outDir);
  const blobs: { entry: TreeEntry; abs: string }[] = [];
  for (const entry of entries) {
    const abs = path.join(outDir, safeRelative(entry.path));
    if (entry.type === 'commit') mkdir(abs);
    else if (entry.type === 'blob') blobs.push({ entry, abs });
    else throw new GitRuleError(`unexpected ${entry.type} ${entry.path} in tree ${tree}`);
  }
  let i = 0;
  await catBlobs(gitDir, blobs.map((b) => b.entry.oid), o, (content) => {
    const { entry, abs } = blobs[i++]!;
    mkdir(path.dirname(abs));
    if (entry.mode === '120000') {
      fs.symlinkSync(content, abs);
    } else {
      const executable = entry.mode === '100755';
      fs.writeFileSync(abs, content, { mode: executable ? 0o755 : 0o644 });
      if (executable) fs.chmodSync(abs, 0o755); // whatever the umask
    }
  });
  if (i !== blobs.length) throw new GitRuleError(`git cat-file returned ${i} of ${blobs.length} blobs of tree ${tree}`);
  return blobs.length;
}

/** A tree path as a relative filesystem path; anything that could climb out of the output dir is refused. */
function safeRelative(p: string): string {
  const parts = p.split('/');
  if (p.startsWith('/') || parts.some((s) => s === '' || s === '.' || s === '..' || s.includes('\\') || s.includes('\0'))) {
    throw new GitRuleError(`refusing to export unsafe path ${JSON.stringify(p)}`);
  }
  if (p.includes('\uFFFD')) throw new GitRuleError(`cannot export ${JSON.stringify(p)}: file names must be UTF-8`);
  return parts.join(path.sep);
}

/**
 * Streams `git cat-file --batch` for `oids`, calling `onBlob` with each
 * object's content in order. The protocol per object is
 * `<oid> <type> <size>\n<content>\n` (or `<oid> missing\n`).
 */
function catBlobs(gitDir: string, oids: string[], o: Opts, onBlob: (content: Buffer) => void): Promise<void> {
  if (oids.length === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const child = childProcess().spawn('git', ['--git-dir', gitDir, 'cat-file', '--batch'], {
      env: gitEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(o.signal ? { signal: o.signal } : {}),
    });
    let failure: Error | undefined;
    const fail = (e: Error) => {
      failure ??= e;
      child.kill();
    };
    let pending: Buffer[] = [];
    let pendingLen = 0;
    let need = -1; // bytes of content + newline still expected for the current object; -1: reading a header
    const take = (n: number): Buffer => {
      const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingLen);
      const head = all.subarray(0, n);
      const rest = all.subarray(n);
      pending = rest.length > 0 ? [rest] : [];
      pendingLen = rest.length;
      return head;
    };
    child.stdout.on('data', (chunk: Buffer) => {
      if (failure) return;
      pending.push(chunk);
      pendingLen += chunk.length;
      try {
        for (;;) {
          if (need === -1) {
            const joined = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingLen);
            pending = [joined];
            const nl = joined.indexOf(10);
            if (nl === -1) return;
            const header = take(nl + 1).toString('utf8').trim();
            const m = /^\S+ (\S+) (\d+)$/.exec(header);
            if (!m) throw new GitRuleError(`object missing from the repository: ${header}`);
            if (m[1] !== 'blob') throw new GitRuleError(`expected a blob, got ${header}`);
            need = Number(m[2]) + 1;
          }
          if (pendingLen < need) return;
          const content = take(need).subarray(0, need - 1);
          need = -1;
          onBlob(content);
        }
      } catch (e) {
        fail(e as Error);
      }
    });
    const stderr: Buffer[] = [];
    child.stderr.on('data', (c: Buffer) => stderr.push(c));
    child.stdin.on('error', () => {
      /* reported by the exit status */
    });
    child.on('error', (e) => fail(e.name === 'AbortError' ? new GitRuleError('cancelled') : e));
    child.on('close', (code) => {
      if (failure) return reject(failure);
      if (o.signal?.aborted) return reject(new GitRuleError('cancelled'));
      if (code !== 0) return reject(new GitRuleError(`git cat-file failed: ${Buffer.concat(stderr).toString('utf8').trim()}`));
      resolve();
    });
    child.stdin.end(`${oids.join('\n')}\n`);
  });
}
