// Git's index as a source of file digests (keys/hash/git-index.ts): read
// with real git repositories in every index version, compared with what
// `git ls-files -s` says, and never trusted for a file that may differ
// from what git recorded.
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { GitIndex } from '../engine/keys/hash/git-index.js';
import { StatCache } from '../engine/keys/hash/stat-cache.js';
import { initXxhash } from '../engine/keys/hash/xxhash.js';
import { RACY_MARGIN_MS } from '../engine/keys/stamps.js';
import { openStateDb } from '../engine/state/state-db.js';
import { buildWithSummary, libAndApp, statuses, tempDir, writeFiles } from './kiln.js';

const git = (cwd: string, ...args: string[]) => execa('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd });

/** A repo whose files are older than its index by more than the racy margin: what a clone looks like. */
async function repo(files: Record<string, string>, executable: string[] = []): Promise<string> {
  const dir = tempDir('kiln-git-index-');
  await git(dir, 'init', '-q');
  writeFiles(dir, files);
  for (const rel of executable) fs.chmodSync(path.join(dir, rel), 0o755);
  await sleep(RACY_MARGIN_MS * 2);
  await git(dir, 'add', '-A');
  await git(dir, 'commit', '-qm', 'init');
  return dir;
}

/** `git ls-files -s`: path → blob id. */
async function lsFiles(dir: string): Promise<Map<string, string>> {
  const out = (await git(dir, 'ls-files', '-s', '-z')).stdout;
  return new Map(out.split('\0').filter(Boolean).map((l) => [l.split('\t')[1]!, l.split(' ')[1]!]));
}

/** The blob id the index vouches for (its key is `<blob id>:<size>`, the size the file's). */
const blobOf = (index: GitIndex, dir: string, rel: string) => {
  const st = fs.statSync(path.join(dir, rel));
  const key = index.blobOf(rel, st);
  if (key !== undefined) expect(key.endsWith(`:${st.size}`)).toBe(true);
  return key?.split(':')[0];
};

const FILES = {
  'a.txt': 'a\n',
  'src/deep/b.ts': 'export const b = 1;\n',
  'src/deep/c.ts': 'export const c = 2;\n',
  'naïve ünïcode.txt': 'u\n',
  'run.sh': '#!/bin/sh\necho hi\n',
  [`${'long-name-'.repeat(12)}.txt`]: 'long\n',
};

describe('git index', () => {
  for (const version of [2, 3, 4]) {
    it(`names the blob of every unchanged file, index version ${version}`, async () => {
      const dir = await repo(FILES, ['run.sh']);
      await git(dir, 'update-index', '--index-version', String(version));
      const want = await lsFiles(dir);
      const index = GitIndex.forDir(dir)!;
      expect(index).toBeDefined();
      for (const [rel, oid] of want) expect(blobOf(index, dir, rel), rel).toBe(oid);
    });
  }

  it('trusts no file that may differ from what git recorded', async () => {
    const dir = await repo({ ...FILES, 'assumed.txt': 'x\n', 'skipped.txt': 'y\n' });
    await git(dir, 'update-index', '--assume-unchanged', 'assumed.txt');
    await git(dir, 'update-index', '--skip-worktree', 'skipped.txt');
    fs.writeFileSync(path.join(dir, 'intent.txt'), 'i\n');
    await git(dir, 'add', '-N', 'intent.txt');
    fs.appendFileSync(path.join(dir, 'a.txt'), 'edited, same second\n');
    fs.symlinkSync('a.txt', path.join(dir, 'link'));
    await git(dir, 'add', 'link');
    const index = GitIndex.forDir(dir)!;
    for (const rel of ['a.txt', 'assumed.txt', 'skipped.txt', 'intent.txt', 'link', 'untracked.txt']) {
      if (rel === 'untracked.txt') fs.writeFileSync(path.join(dir, rel), 'u\n');
      expect(blobOf(index, dir, rel), rel).toBeUndefined();
    }
    expect(blobOf(index, dir, 'src/deep/b.ts')).toBeDefined();
  });

  it('trusts no entry written within the racy margin of the index', async () => {
    const dir = tempDir('kiln-git-racy-');
    await git(dir, 'init', '-q');
    writeFiles(dir, { 'fresh.txt': 'f\n' });
    await git(dir, 'add', '-A');
    expect(blobOf(GitIndex.forDir(dir)!, dir, 'fresh.txt')).toBeUndefined();
  });

  it('maps workspace paths into the repo: a workspace in a subdirectory, a linked worktree', async () => {
    const dir = await repo({ 'ws/pkg/a.txt': 'a\n', 'other.txt': 'o\n' });
    const want = await lsFiles(dir);
    expect(blobOf(GitIndex.forDir(path.join(dir, 'ws'))!, path.join(dir, 'ws'), 'pkg/a.txt')).toBe(want.get('ws/pkg/a.txt'));
    const linked = path.join(tempDir('kiln-git-wt-'), 'wt');
    await git(dir, 'worktree', 'add', '-q', linked);
    await sleep(RACY_MARGIN_MS * 2);
    await git(linked, 'update-index', '--really-refresh');
    expect(blobOf(GitIndex.forDir(linked)!, linked, 'other.txt')).toBe(want.get('other.txt'));
  });

  it('is not used when it is not one kiln reads exactly (split index), nor outside a repo', async () => {
    const dir = await repo(FILES);
    await git(dir, 'update-index', '--split-index');
    expect(GitIndex.forDir(dir)).toBeUndefined();
    expect(GitIndex.forDir(tempDir('kiln-no-git-'))).toBeUndefined();
  });
});

describe('the stat cache with git blobs', () => {
  it('a fresh clone gets the digests of unchanged files from the index; an edited file is read', async () => {
    await initXxhash();
    // Enough files that git's index is opened (the first misses are hashed before it is: MISSES_BEFORE_GIT).
    const files: Record<string, string> = { ...FILES };
    for (let i = 0; i < 100; i++) files[`gen/f${i}.txt`] = `file ${i}\n`;
    const dir = await repo(files);
    const rels = Object.keys(files).sort();
    const memo = new Map<string, string>();
    const withGit = (db: Database.Database) =>
      new StatCache(db, () => {
        const index = GitIndex.forDir(dir);
        return index && { index, digestsOf: (blobs) => new Map(blobs.filter((b) => memo.has(b)).map((b) => [b, memo.get(b)!])), remember: (d) => d.forEach((v, k) => memo.set(k, v)) };
      });
    const digestAll = (stats: StatCache, order = rels) => order.map((rel) => stats.digest(path.join(dir, rel), rel, fs.statSync(path.join(dir, rel))));

    // First checkout: every file read and hashed; once the index is open, each blob is remembered.
    const first = withGit(openStateDb(dir));
    const digests = digestAll(first);
    first.flush();
    expect([first.hashed, first.fromGit]).toEqual([rels.length, 0]);
    const remembered = memo.size;
    expect(remembered).toBeGreaterThan(rels.length / 2);

    // A fresh clone (no .kiln): the same digests; those git and the memo vouch for are not read.
    fs.rmSync(path.join(dir, '.kiln'), { recursive: true });
    const fresh = withGit(openStateDb(dir));
    expect(digestAll(fresh)).toEqual(digests);
    expect(fresh.fromGit).toBeGreaterThan(rels.length / 2);
    expect(fresh.hashed + fresh.fromGit).toBe(rels.length);

    // An edit (not staged) changes the file's stat: it is read, and its digest is the new content's.
    fs.rmSync(path.join(dir, '.kiln'), { recursive: true });
    const last = rels.length - 1;
    fs.writeFileSync(path.join(dir, rels[last]!), 'edited\n');
    const edited = withGit(openStateDb(dir));
    const after = digestAll(edited);
    expect(after[last]).not.toBe(digests[last]);
    expect(after.slice(0, last)).toEqual(digests.slice(0, last));
    expect(edited.hashed + edited.fromGit).toBe(rels.length);
  });
});

describe('a fresh clone with a warm cache (the CLI)', () => {
  it('restores every package by digests from git, and rebuilds what an unstaged edit changed', async () => {
    const dir = await repo({
      ...libAndApp('mkdir -p dist && cp src.txt dist/out.txt'),
      '.gitignore': 'dist/\n.kiln/\n',
      'packages/lib/src.txt': 'lib v1\n',
      ...Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`packages/lib/more/m${i}.txt`, `more ${i}\n`])),
    });
    const cacheDir = tempDir('kiln-git-fresh-cache-');
    const build = () => buildWithSummary(dir, ['--npm', 'build', '--npm-outputs', 'dist', '--cache-dir', cacheDir, '--logs', 'none']);
    const fresh = () => {
      for (const p of ['.kiln', 'packages/lib/dist', 'packages/app/dist']) fs.rmSync(path.join(dir, p), { recursive: true, force: true });
    };
    expect((await build()).exitCode).toBe(0);
    const blobs = () => {
      const db = new Database(path.join(cacheDir, 'index.db'), { readonly: true });
      try {
        return db.prepare('SELECT count(*) FROM git_blobs').pluck().get() as number;
      } finally {
        db.close();
      }
    };
    expect(blobs()).toBeGreaterThan(0); // inputs hashed once git's index was open, each checked out unchanged

    fresh();
    const restored = await build();
    expect(statuses(restored.summary).built).toEqual([]);
    expect(fs.readFileSync(path.join(dir, 'packages/app/dist/app.txt'), 'utf8')).toBe('app\nlib v1\n');

    fresh();
    fs.writeFileSync(path.join(dir, 'packages/lib/src.txt'), 'lib v2\n');
    const edited = await build();
    expect(statuses(edited.summary).built).toEqual(['app#build', 'lib#build']);
    expect(fs.readFileSync(path.join(dir, 'packages/app/dist/app.txt'), 'utf8')).toBe('app\nlib v2\n');
  });
});
