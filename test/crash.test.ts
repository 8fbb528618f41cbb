// Crash safety (DESIGN.md section 4): kill -9 at any moment leaves no partial
// cache entry, a corrupted blob is detected and rebuilt, and Ctrl-C/SIGTERM
// stop a build without leaving its commands running.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { buildWithSummary, kiln, KILN_MAIN, statuses, tempDir, writeFiles } from './kiln.js';
import { mulberry32 as prng } from '../bench/prng.js';

const SEED = Number(process.env.KILN_TEST_SEED ?? 20240611);
const randInt = (rand: () => number, lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const DIGEST = /^[0-9a-f]{64}$/;

/** Env the CLI helper gives every run, for the runs this file spawns itself. */
const baseEnv = (extra: Record<string, string>) => ({
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: process.env.HOME ?? '/tmp',
  CI: 'true',
  ...extra,
});

// ---------------------------------------------------------------------------
// A ~30 node workspace: 4 layers, every node sleeps 10-60 ms and then writes a
// file plus a directory holding several files, one of them a few hundred KB.

interface CrashNode {
  id: string;
  deps: string[];
  sleepMs: number;
  bigBytes: number;
}

function crashGraph(): CrashNode[] {
  const rand = prng(SEED ^ 0x5eed);
  const node = (id: string, deps: string[]): CrashNode => ({
    id,
    deps,
    sleepMs: randInt(rand, 10, 60),
    bigBytes: randInt(rand, 50_000, 400_000),
  });
  const nodes: CrashNode[] = [];
  for (let i = 0; i < 10; i++) nodes.push(node(`s${i}`, []));
  for (let i = 0; i < 10; i++) nodes.push(node(`m${i}`, [`s${i}`, `s${(i + 3) % 10}`]));
  for (let i = 0; i < 6; i++) nodes.push(node(`t${i}`, [`m${i}`, `m${(i + 4) % 10}`, `m${(i + 7) % 10}`]));
  for (let i = 0; i < 4; i++) nodes.push(node(`u${i}`, [`t${i}`, `t${(i + 2) % 6}`]));
  return nodes;
}

const outputsOf = (id: string) => [`gen/${id}.txt`, `gen/${id}.d`];

function crashCmd(n: CrashNode): string {
  const sleepS = `0.${String(n.sleepMs).padStart(3, '0')}`;
  const head = `sleep ${sleepS} && mkdir -p gen/${n.id}.d/sub`;
  const smalls = `for f in 1 2 3; do echo "${n.id} $f" > gen/${n.id}.d/sub/f$f; done`;
  if (n.deps.length === 0) {
    const src = `src/${n.id}.txt`;
    return [
      head,
      `cp ${src} gen/${n.id}.txt`,
      `yes "${n.id} $(cat ${src})" | head -c ${n.bigBytes} > gen/${n.id}.d/big`,
      `cat ${src} ${src} > gen/${n.id}.d/twice`,
      smalls,
    ].join(' && ');
  }
  return [
    head,
    `cat ${n.deps.map((d) => `gen/${d}.txt`).join(' ')} > gen/${n.id}.txt`,
    `echo ${n.id} >> gen/${n.id}.txt`,
    `{ echo ${n.id}; cat ${n.deps.map((d) => `gen/${d}.d/big`).join(' ')}; } | head -c ${n.bigBytes} > gen/${n.id}.d/big`,
    `ls gen/${n.deps[0]}.d/sub > gen/${n.id}.d/listing`,
    smalls,
  ].join(' && ');
}

function crashBuildFile(nodes: CrashNode[]): string {
  const lines = ['nodes:'];
  for (const n of nodes) {
    lines.push(`  ${n.id}:`, '    rule: run');
    if (n.deps.length === 0) lines.push(`    inputs: [src/${n.id}.txt]`);
    else lines.push(`    deps: [${n.deps.join(', ')}]`);
    lines.push(`    outputs: [${outputsOf(n.id).join(', ')}]`);
    // Declared so that every command (and its children) carries the marker in
    // its environment: kill -9 of kiln orphans its commands (they run in their
    // own process groups), and the test must reap them before the next round.
    lines.push('    env: [KILN_CRASH_MARK]');
    lines.push(`    cmd: ${JSON.stringify(crashCmd(n))}`);
  }
  return `${lines.join('\n')}\n`;
}

function sourceText(id: string, version: number, rand: () => number): string {
  return `source ${id} v${version} ${'x'.repeat(randInt(rand, 0, 40))}\n`;
}

// ---------------------------------------------------------------------------
// Process and cache inspection.

/** Live processes whose environment carries KILN_CRASH_MARK=mark (Linux /proc). */
function markedPids(mark: string): number[] {
  const needle = Buffer.from(`\0KILN_CRASH_MARK=${mark}\0`);
  const pids: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const env = Buffer.concat([Buffer.from([0]), fs.readFileSync(`/proc/${name}/environ`)]);
      if (env.includes(needle)) pids.push(Number(name));
    } catch {
      /* gone, or not ours */
    }
  }
  return pids;
}

/** SIGKILLs (by pid and process group) every process that carries our marker, until none is left. */
async function reapMarked(mark: string): Promise<number> {
  let reaped = 0;
  for (let round = 0; round < 100; round++) {
    const pids = markedPids(mark).filter((p) => p !== process.pid);
    if (pids.length === 0) return reaped;
    reaped += pids.length;
    for (const pid of pids) {
      for (const target of [-pid, pid]) {
        try {
          process.kill(target, 'SIGKILL');
        } catch {
          /* not a group leader, or already gone */
        }
      }
    }
    await sleep(20);
  }
  throw new Error(`processes marked ${mark} survive SIGKILL: ${markedPids(mark).join(' ')}`);
}

/**
 * Checks the cache as it lies on disk, without kiln and without writing:
 * every file under cas/ is a blob named by the sha256 of its bytes, and
 * every blob that every index entry names exists and is intact.
 */
function inspectCache(cacheDir: string): { problems: string[]; entries: number; blobs: number } {
  const problems: string[] = [];
  const blobs = new Map<string, number>(); // digest → size, only intact blobs
  const casDir = path.join(cacheDir, 'cas');
  if (fs.existsSync(casDir)) {
    for (const shard of fs.readdirSync(casDir)) {
      const shardDir = path.join(casDir, shard);
      if (!fs.statSync(shardDir).isDirectory()) {
        problems.push(`stray file cas/${shard}`);
        continue;
      }
      for (const name of fs.readdirSync(shardDir)) {
        const rel = `cas/${shard}/${name}`;
        if (!DIGEST.test(name) || name.slice(0, 2) !== shard) {
          problems.push(`stray file ${rel}`);
          continue;
        }
        const bytes = fs.readFileSync(path.join(shardDir, name));
        if (sha256(bytes) !== name) problems.push(`blob ${rel} does not hash to its name (${bytes.length} bytes)`);
        else blobs.set(name, bytes.length);
      }
    }
  }

  let entries = 0;
  const dbFile = path.join(cacheDir, 'index.db');
  if (fs.existsSync(dbFile)) {
    const db = new Database(dbFile, { readonly: true, fileMustExist: true });
    try {
      const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'actions'").get();
      const rows = hasTable ? (db.prepare('SELECT key, entry FROM actions').all() as { key: string; entry: string }[]) : [];
      entries = rows.length;
      for (const row of rows) {
        let entry: { outputs?: { path: string; type: string; digest?: string; size?: number }[]; log?: { digest: string; size: number } | null };
        try {
          entry = JSON.parse(row.entry) as typeof entry;
        } catch {
          problems.push(`entry ${row.key}: not JSON`);
          continue;
        }
        if (!Array.isArray(entry.outputs) || entry.outputs.length === 0) {
          problems.push(`entry ${row.key}: no outputs`);
          continue;
        }
        const refs: { what: string; digest?: string; size?: number }[] = entry.outputs
          .filter((o) => o.type === 'file')
          .map((o) => ({ what: o.path, digest: o.digest, size: o.size }));
        if (entry.log) refs.push({ what: 'log', digest: entry.log.digest, size: entry.log.size });
        for (const ref of refs) {
          if (!ref.digest || !DIGEST.test(ref.digest)) problems.push(`entry ${row.key}: ${ref.what} has no digest`);
          else if (!blobs.has(ref.digest)) problems.push(`entry ${row.key}: ${ref.what} names missing or corrupt blob ${ref.digest}`);
          else if (ref.size !== undefined && blobs.get(ref.digest) !== ref.size) {
            problems.push(`entry ${row.key}: ${ref.what} size ${ref.size} but blob has ${blobs.get(ref.digest)}`);
          }
        }
      }
    } finally {
      db.close();
    }
  }
  return { problems, entries, blobs: blobs.size };
}

/** Every path under `root` (except kiln's own .kiln state): dirs, and files by mode and content digest. */
function tree(root: string, under = ''): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    const abs = path.join(root, rel);
    const st = fs.lstatSync(abs);
    if (st.isSymbolicLink()) out[rel] = `link:${fs.readlinkSync(abs)}`;
    else if (st.isDirectory()) {
      if (rel) out[rel] = 'dir';
      for (const n of fs.readdirSync(abs).sort()) if (!(rel === '' && n === '.kiln')) walk(rel ? `${rel}/${n}` : n);
    } else out[rel] = `file:${(st.mode & 0o111) !== 0 ? 'x' : '-'}:${st.size}:${sha256(fs.readFileSync(abs))}`;
  };
  walk(under);
  return out;
}

/** The part of a tree that lies inside declared outputs. */
function declaredOutputs(t: Record<string, string>, nodes: CrashNode[]): Record<string, string> {
  const roots = nodes.flatMap((n) => outputsOf(n.id));
  return Object.fromEntries(Object.entries(t).filter(([rel]) => roots.some((r) => rel === r || rel.startsWith(`${r}/`))));
}

async function verifyCache(cwd: string, cacheDir: string) {
  const r = await kiln(cwd, ['cache', 'verify', '--cache-dir', cacheDir]);
  const count = (label: string) => Number(new RegExp(`^${label}: (\\d+)$`, 'm').exec(r.stdout)?.[1] ?? NaN);
  return {
    ...r,
    corrupt: count('corrupt blobs removed'),
    broken: count('broken entries removed'),
    stale: count('stale temp files removed'),
  };
}

describe('crash safety', () => {
  it('survives kill -9 at random points: the cache stays consistent and the final outputs equal a clean build', async () => {
    const rand = prng(SEED);
    const nodes = crashGraph();
    const mark = `crash-${process.pid}-${Date.now()}`;
    const env = { KILN_CRASH_MARK: mark };
    const ws = tempDir('kiln-crash-ws-');
    const cacheDir = tempDir('kiln-crash-cache-');
    const versions = new Map(nodes.filter((n) => n.deps.length === 0).map((n) => [n.id, 0]));
    writeFiles(ws, {
      'kiln.yaml': crashBuildFile(nodes),
      ...Object.fromEntries([...versions.keys()].map((id) => [`src/${id}.txt`, sourceText(id, 0, rand)])),
    });

    const ITERATIONS = 20;
    const log: string[] = [];
    let killedMidBuild = 0;
    let completed = 0;
    let strayProcesses = 0;
    try {
      for (let i = 0; i < ITERATIONS; i++) {
        // Vary the work the next build finds: edited sources, lost outputs, lost state.
        const events: string[] = [];
        if (rand() < 0.5) {
          const id = `s${randInt(rand, 0, 9)}`;
          const v = versions.get(id)! + 1;
          versions.set(id, v);
          fs.writeFileSync(path.join(ws, 'src', `${id}.txt`), sourceText(id, v, rand));
          events.push(`edit ${id}`);
        }
        const r = rand();
        if (r < 0.1) {
          fs.rmSync(path.join(ws, 'gen'), { recursive: true, force: true });
          events.push('rm gen');
        } else if (r < 0.3) {
          for (let k = randInt(rand, 1, 5); k > 0; k--) {
            const n = nodes[randInt(rand, 0, nodes.length - 1)]!;
            for (const o of outputsOf(n.id)) fs.rmSync(path.join(ws, o), { recursive: true, force: true });
            events.push(`rm ${n.id}`);
          }
        }
        if (rand() < 0.08) {
          fs.rmSync(path.join(ws, '.kiln'), { recursive: true, force: true });
          events.push('rm .kiln');
        }
        const jobs = [1, 2, 4][randInt(rand, 0, 2)]!;
        const delay = randInt(rand, 0, 800);

        const child = spawn(process.execPath, [KILN_MAIN, 'build', '-f', path.join(ws, 'kiln.yaml'), '-j', String(jobs)], {
          cwd: ws,
          detached: true, // a process-group leader, so the whole group can be killed
          stdio: ['ignore', 'pipe', 'pipe'],
          env: baseEnv({ KILN_CACHE_DIR: cacheDir, ...env }),
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
          child.on('close', (code, signal) => resolve({ code, signal })),
        );
        // Half the kills count from the spawn (they often land in startup: loading, opening the
        // databases), half from the first finished node (they land among running commands,
        // blob writes and index updates).
        const fromProgress = i % 2 === 1;
        if (fromProgress) {
          await new Promise<void>((resolve) => {
            const onData = () => {
              if (/^\[\d+\/\d+\] /m.test(stdout)) done();
            };
            const done = () => {
              child.stdout.off('data', onData);
              resolve();
            };
            child.stdout.on('data', onData);
            void closed.then(done);
          });
        }
        const finishedFirst = await Promise.race([closed.then(() => true), sleep(delay).then(() => false)]);
        if (!finishedFirst) {
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            /* exited just now */
          }
        }
        const exit = await closed;
        strayProcesses += await reapMarked(mark);
        const progressed = /^\[\d+\/\d+\] /m.test(stdout);
        const what = `iteration ${i} (seed ${SEED}, ${events.join(', ') || 'no change'}, -j ${jobs}, kill ${delay} ms after ${fromProgress ? 'first node' : 'spawn'})`;
        log.push(`${what}: ${exit.signal ?? `exit ${exit.code}`}${progressed ? ', progressed' : ''}`);
        if (exit.signal === 'SIGKILL') {
          if (progressed) killedMidBuild++;
        } else {
          // Finished before the kill: then it must have succeeded.
          expect(exit.code, `${what}: ${stderr}${stdout}`).toBe(0);
          completed++;
        }

        const inspected = inspectCache(cacheDir);
        expect(inspected.problems, what).toEqual([]);
        const verify = await verifyCache(ws, cacheDir);
        expect({ exit: verify.exitCode, corrupt: verify.corrupt, broken: verify.broken }, `${what}: ${verify.stdout}${verify.stderr}`).toEqual({
          exit: 0,
          corrupt: 0,
          broken: 0,
        });
      }
    } finally {
      await reapMarked(mark);
    }
    // The loop must have really interrupted builds in progress, not only startups or finished runs.
    expect(killedMidBuild, log.join('\n')).toBeGreaterThanOrEqual(5);

    const final = await buildWithSummary(ws, ['-f', path.join(ws, 'kiln.yaml')], { KILN_CACHE_DIR: cacheDir, ...env });
    expect(final.exitCode, final.stderr + final.stdout).toBe(0);
    expect(statuses(final.summary).built.length + statuses(final.summary).cached.length).toBe(nodes.length);

    // A clean build of the same sources, in a fresh checkout with a fresh, empty cache.
    const ref = tempDir('kiln-crash-ref-');
    fs.cpSync(path.join(ws, 'src'), path.join(ref, 'src'), { recursive: true });
    fs.copyFileSync(path.join(ws, 'kiln.yaml'), path.join(ref, 'kiln.yaml'));
    const clean = await buildWithSummary(ref, ['-f', path.join(ref, 'kiln.yaml')], { KILN_CACHE_DIR: tempDir('kiln-crash-refcache-'), ...env });
    expect(clean.exitCode, clean.stderr + clean.stdout).toBe(0);
    expect(statuses(clean.summary).built).toHaveLength(nodes.length);

    const wsTree = tree(ws);
    const refTree = tree(ref);
    expect(declaredOutputs(wsTree, nodes)).toEqual(declaredOutputs(refTree, nodes));
    expect(Object.keys(declaredOutputs(refTree, nodes)).length).toBeGreaterThan(nodes.length * 6);
    const digests = (s: typeof final.summary) => Object.fromEntries(s.nodes.map((n) => [n.id, n.outputDigest]));
    expect(digests(final.summary)).toEqual(digests(clean.summary));

    // Every entry the final keys name restores intact.
    fs.rmSync(path.join(ws, 'gen'), { recursive: true, force: true });
    fs.rmSync(path.join(ws, '.kiln'), { recursive: true, force: true });
    const restored = await buildWithSummary(ws, ['-f', path.join(ws, 'kiln.yaml')], { KILN_CACHE_DIR: cacheDir, ...env });
    expect(restored.exitCode).toBe(0);
    expect(statuses(restored.summary).cached).toHaveLength(nodes.length);
    expect(declaredOutputs(tree(ws), nodes)).toEqual(declaredOutputs(refTree, nodes));
    await reapMarked(mark);
    console.log(`crash loop: ${killedMidBuild} killed mid-build, ${completed} completed, ${strayProcesses} orphaned commands reaped`);
    // Nothing else in the checkout either: no half-written temp file left beside an output by a killed restore.
    expect(Object.keys(wsTree).filter((p) => !(p in refTree))).toEqual([]);
  }, 120_000);

  it('a kill -9 in the middle of a restore leaves nothing beside the outputs', async () => {
    const ws = tempDir('kiln-restore-kill-');
    const cacheDir = tempDir('kiln-restore-kill-cache-');
    writeFiles(ws, {
      'kiln.yaml': `
nodes:
  big:
    rule: run
    outputs: [out/big.bin]
    cmd: mkdir -p out && head -c 128000000 /dev/zero > out/big.bin
`,
    });
    const first = await buildWithSummary(ws, [], { KILN_CACHE_DIR: cacheDir });
    expect(first.exitCode, first.stderr).toBe(0);
    const good = sha256(fs.readFileSync(path.join(ws, 'out/big.bin')));
    fs.rmSync(path.join(ws, 'out/big.bin'));

    // Kill kiln while it copies the blob out: it holds the blob open for reading and some other
    // file in the checkout or the cache open for writing (wherever it puts its temp file).
    const blob = path.join(fs.realpathSync(cacheDir), 'cas', good.slice(0, 2), good);
    const roots = [fs.realpathSync(ws), fs.realpathSync(cacheDir)].map((r) => `${r}/`);
    const midCopy = (pid: number): boolean => {
      let open: string[];
      try {
        open = fs.readdirSync(`/proc/${pid}/fd`).map((fd) => {
          try {
            return fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
          } catch {
            return '';
          }
        });
      } catch {
        return false;
      }
      return (
        open.includes(blob) &&
        open.some((f) => f !== blob && roots.some((r) => f.startsWith(r)) && !/\.db(-wal|-shm|-journal)?$/.test(f))
      );
    };
    const child = spawn(process.execPath, [KILN_MAIN, 'build'], {
      cwd: ws,
      detached: true,
      stdio: 'ignore',
      env: baseEnv({ KILN_CACHE_DIR: cacheDir }),
    });
    let exited = false;
    const closed = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('close', (_code, signal) => {
        exited = true;
        resolve(signal);
      }),
    );
    let killedMidCopy = false;
    while (!exited && !killedMidCopy) {
      if (midCopy(child.pid!)) {
        process.kill(-child.pid!, 'SIGKILL');
        killedMidCopy = true;
      } else await new Promise((resolve) => setImmediate(resolve));
    }
    const signal = await closed;
    expect(killedMidCopy && signal, 'kiln finished the restore before it could be killed').toBe('SIGKILL');
    expect(inspectCache(cacheDir).problems).toEqual([]);

    const after = await buildWithSummary(ws, [], { KILN_CACHE_DIR: cacheDir });
    expect(after.exitCode, after.stderr).toBe(0);
    expect(statuses(after.summary).cached).toEqual(['big']);
    expect(sha256(fs.readFileSync(path.join(ws, 'out/big.bin')))).toBe(good);
    // The half-written temp file of the killed restore must not stay in the checkout forever.
    expect(fs.readdirSync(path.join(ws, 'out'))).toEqual(['big.bin']);
    expect(fs.readdirSync(ws).sort()).toEqual(['.kiln', 'kiln.yaml', 'out']);
  });

  describe('a corrupted blob', () => {
    const BUILD_FILE = `
nodes:
  gen:
    rule: run
    inputs: [seed.txt]
    outputs: [out/gen.bin, out/gen.d]
    cmd: mkdir -p out/gen.d && yes "$(cat seed.txt)" | head -c 200000 > out/gen.bin && echo small > out/gen.d/small
  use:
    rule: run
    deps: [gen]
    outputs: [out/use.txt]
    cmd: wc -c < out/gen.bin | tr -d ' ' > out/use.txt
  other:
    rule: run
    outputs: [out/other.txt]
    cmd: mkdir -p out && echo other > out/other.txt
`;
    function setup() {
      const ws = tempDir('kiln-corrupt-');
      writeFiles(ws, { 'kiln.yaml': BUILD_FILE, 'seed.txt': 'seed bytes\n' });
      return { ws, cacheDir: tempDir('kiln-corrupt-cache-') };
    }

    /** The digest of gen's `out/gen.bin` according to the cache index. */
    function genBlob(cacheDir: string, key: string): string {
      const db = new Database(path.join(cacheDir, 'index.db'), { readonly: true });
      try {
        const row = db.prepare('SELECT entry FROM actions WHERE key = ?').get(key) as { entry: string } | undefined;
        const entry = JSON.parse(row!.entry) as { outputs: { path: string; digest?: string }[] };
        return entry.outputs.find((o) => o.path === 'out/gen.bin')!.digest!;
      } finally {
        db.close();
      }
    }

    /** Overwrites a blob with different bytes of the same length, so only a digest check can tell. */
    function corrupt(cacheDir: string, digest: string): void {
      const file = path.join(cacheDir, 'cas', digest.slice(0, 2), digest);
      const bytes = fs.readFileSync(file);
      bytes[1000] = bytes[1000]! ^ 0xff;
      fs.writeFileSync(file, bytes);
      expect(sha256(bytes)).not.toBe(digest);
    }

    it('is detected on restore and its node rebuilt, with correct outputs', async () => {
      const { ws, cacheDir } = setup();
      const env = { KILN_CACHE_DIR: cacheDir };
      const first = await buildWithSummary(ws, [], env);
      expect(first.exitCode).toBe(0);
      expect(statuses(first.summary).built).toEqual(['gen', 'other', 'use']);
      const good = fs.readFileSync(path.join(ws, 'out/gen.bin'));
      expect(good.length).toBe(200_000);
      const genKey = first.summary.nodes.find((n) => n.id === 'gen')!.key!;
      const digest = genBlob(cacheDir, genKey);
      expect(digest).toBe(sha256(good));

      fs.rmSync(path.join(ws, 'out'), { recursive: true });
      corrupt(cacheDir, digest);
      const second = await buildWithSummary(ws, [], env);
      expect(second.exitCode, second.stderr + second.stdout).toBe(0);
      // gen is rebuilt to the same bytes, so its dependent is a cache hit (early cutoff).
      expect(statuses(second.summary)).toMatchObject({ built: ['gen'], cached: ['other', 'use'], failed: [] });
      expect(fs.readFileSync(path.join(ws, 'out/gen.bin')).equals(good)).toBe(true);
      expect(fs.readFileSync(path.join(ws, 'out/gen.d/small'), 'utf8')).toBe('small\n');
      expect(fs.readFileSync(path.join(ws, 'out/use.txt'), 'utf8')).toBe('200000\n');
      expect(second.summary.nodes.find((n) => n.id === 'gen')!.outputDigest).toBe(first.summary.nodes.find((n) => n.id === 'gen')!.outputDigest);

      // The rebuild stored good bytes again; the cache is clean.
      expect(inspectCache(cacheDir).problems).toEqual([]);
      const verify = await verifyCache(ws, cacheDir);
      expect({ exit: verify.exitCode, corrupt: verify.corrupt, broken: verify.broken }, verify.stdout).toEqual({ exit: 0, corrupt: 0, broken: 0 });

      // And the next restore of everything is all hits.
      fs.rmSync(path.join(ws, 'out'), { recursive: true });
      fs.rmSync(path.join(ws, '.kiln'), { recursive: true });
      const third = await buildWithSummary(ws, [], env);
      expect(statuses(third.summary).cached).toEqual(['gen', 'other', 'use']);
      expect(fs.readFileSync(path.join(ws, 'out/gen.bin')).equals(good)).toBe(true);
    });

    it('is reported and removed by kiln cache verify', async () => {
      const { ws, cacheDir } = setup();
      const first = await buildWithSummary(ws, [], { KILN_CACHE_DIR: cacheDir });
      expect(first.exitCode).toBe(0);
      const clean = await verifyCache(ws, cacheDir);
      expect({ exit: clean.exitCode, corrupt: clean.corrupt, broken: clean.broken }).toEqual({ exit: 0, corrupt: 0, broken: 0 });

      const digest = genBlob(cacheDir, first.summary.nodes.find((n) => n.id === 'gen')!.key!);
      corrupt(cacheDir, digest);
      // The crash test's own inspector sees the damage too (it is what that test relies on).
      expect(inspectCache(cacheDir).problems).toEqual([
        expect.stringContaining(`${digest} does not hash to its name`),
        expect.stringContaining(`out/gen.bin names missing or corrupt blob ${digest}`),
      ]);
      const found = await verifyCache(ws, cacheDir);
      expect(found.exitCode, found.stdout + found.stderr).toBe(1);
      expect(found.corrupt).toBe(1);
      expect(found.stdout).toContain(digest);
      // The entry that needed the blob can no longer be restored, so it goes too.
      expect(found.broken).toBe(1);
      expect(fs.existsSync(path.join(cacheDir, 'cas', digest.slice(0, 2), digest))).toBe(false);
      expect(inspectCache(cacheDir).problems).toEqual([]);

      const again = await verifyCache(ws, cacheDir);
      expect({ exit: again.exitCode, corrupt: again.corrupt, broken: again.broken }).toEqual({ exit: 0, corrupt: 0, broken: 0 });

      // A checkout without the outputs now rebuilds gen instead of restoring damaged bytes.
      fs.rmSync(path.join(ws, 'out'), { recursive: true });
      fs.rmSync(path.join(ws, '.kiln'), { recursive: true });
      const rebuilt = await buildWithSummary(ws, [], { KILN_CACHE_DIR: cacheDir });
      expect(statuses(rebuilt.summary)).toMatchObject({ built: ['gen'], cached: ['other', 'use'] });
      expect(sha256(fs.readFileSync(path.join(ws, 'out/gen.bin')))).toBe(digest);
    });
  });

  describe('interrupting a build', () => {
    async function pids(marker: string): Promise<number[]> {
      const r = await execa('pgrep', ['-f', marker], { reject: false });
      return r.stdout.split('\n').filter(Boolean).map(Number);
    }

    /** Until the marked command really runs. */
    async function started(marker: string, t0: number): Promise<void> {
      while ((await pids(marker)).length === 0) {
        expect(Date.now() - t0, 'the slow command never started').toBeLessThan(15_000);
        await sleep(50);
      }
    }

    /** Nothing kiln started may outlive it (a short grace for the kernel to deliver the kill). */
    async function expectNoneLeft(marker: string): Promise<void> {
      let left = await pids(marker);
      for (let i = 0; i < 10 && left.length > 0; i++) {
        await sleep(100);
        left = await pids(marker);
      }
      expect(left, `processes left running: ${left.join(' ')}`).toEqual([]);
    }

    /** After a test, pass or fail: kiln and anything marked it left. */
    async function killAll(child: { kill(signal: NodeJS.Signals): unknown }, marker: string): Promise<void> {
      child.kill('SIGKILL');
      for (const pid of await pids(marker)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }

    it.each([
      { signal: 'SIGINT', code: 130, trap: '', label: 'sh -c with a grandchild' },
      { signal: 'SIGTERM', code: 143, trap: '', label: 'sh -c with a grandchild' },
      // A command that ignores SIGTERM must be SIGKILLed after the grace period, before kiln exits.
      { signal: 'SIGINT', code: 130, trap: 'trap "" TERM; ', label: 'even one that ignores SIGTERM' },
    ] as const)('on $signal kills the running commands and their children, then exits $code: $label', async ({ signal, code, trap }) => {
      // A marker unique to this run, so pgrep sees our sleep and nobody else's.
      const marker = `sleep 30.${process.pid}${signal === 'SIGINT' ? 1 : 2}${trap ? 1 : 0}${Date.now() % 100_000}`;
      const ws = tempDir('kiln-interrupt-');
      const cacheDir = tempDir('kiln-interrupt-cache-');
      writeFiles(ws, {
        'kiln.yaml': `
nodes:
  quick:
    rule: run
    outputs: [quick.txt]
    cmd: echo quick > quick.txt
  slow:
    rule: run
    deps: [quick]
    outputs: [slow.txt]
    cmd: sh -c '${trap}${marker} & wait' && echo done > slow.txt
`,
      });
      const summaryFile = path.join(tempDir('kiln-summary-'), 'summary.json');
      const t0 = Date.now();
      const child = execa('node', [KILN_MAIN, 'build', '--summary', summaryFile], {
        cwd: ws,
        reject: false,
        extendEnv: false,
        env: baseEnv({ KILN_CACHE_DIR: cacheDir }),
      });
      try {
        // Wait until the grandchild really runs, and at least ~500 ms.
        await started(marker, t0);
        await sleep(Math.max(0, 500 - (Date.now() - t0)));
        expect(child.exitCode).toBeNull();

        const sent = Date.now();
        child.kill(signal); // kiln only, not its group
        const result = await child;
        const took = Date.now() - sent;
        expect(result.signal, result.stderr).toBeUndefined();
        expect(result.exitCode, result.stderr).toBe(code);
        expect(took).toBeLessThan(5_000);

        await expectNoneLeft(marker);

        const summary = JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as { nodes: { id: string; status: string }[] };
        const status = Object.fromEntries(summary.nodes.map((n) => [n.id, n.status]));
        expect(status.quick).toBe('built');
        expect(['failed', 'skipped']).toContain(status.slow);
        expect(fs.existsSync(path.join(ws, 'slow.txt'))).toBe(false);

        // Finished work stays cached; the cancelled node left no entry.
        const stats = await kiln(ws, ['cache', 'stats', '--cache-dir', cacheDir]);
        expect(stats.stdout).toMatch(/^entries: 1$/m);
      } finally {
        await killAll(child, marker);
      }
    });

    it('whose output pipe closed (`kiln build | head`) stops as on a signal, quietly, and exits 141', async () => {
      const marker = `sleep 30.${process.pid}3${Date.now() % 100_000}`;
      const ws = tempDir('kiln-pipe-');
      writeFiles(ws, {
        'kiln.yaml': `
nodes:
  slow:
    rule: run
    outputs: [slow.txt]
    cmd: sh -c '${marker} & wait' && echo done > slow.txt
  tick:
    rule: run
    cmd: sleep 2
`,
      });
      const summaryFile = path.join(tempDir('kiln-summary-'), 'summary.json');
      const child = execa('node', [KILN_MAIN, 'build', '-j', '2', '--summary', summaryFile], {
        cwd: ws,
        reject: false,
        extendEnv: false,
        env: baseEnv({ KILN_CACHE_DIR: tempDir('kiln-pipe-cache-') }),
      });
      try {
        await started(marker, Date.now());
        // The reader goes away; kiln's next line (tick finishing) meets a closed pipe.
        child.stdout!.destroy();
        const result = await child;
        expect(result.signal, result.stderr).toBeUndefined();
        expect(result.exitCode, result.stderr).toBe(141);
        expect(result.stderr).not.toMatch(/Error|at .*\.js:\d+/);
        await expectNoneLeft(marker);
        const summary = JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as { nodes: { id: string; status: string }[] };
        expect(Object.fromEntries(summary.nodes.map((n) => [n.id, n.status]))).toMatchObject({ tick: 'built' });
        expect(fs.existsSync(path.join(ws, 'slow.txt'))).toBe(false);
      } finally {
        await killAll(child, marker);
      }
    });
  });
});
