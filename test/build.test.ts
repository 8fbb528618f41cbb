import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildWithSummary, kiln, statuses, tempDir, writeFiles } from './kiln.js';
import { isAlive } from '../engine/pid.js';

const DIAMOND = `
nodes:
  a:
    rule: run
    inputs: [a.txt]
    outputs: [out/a]
    cmd: mkdir -p out && cp a.txt out/a && echo built-a
  b:
    rule: run
    deps: [a]
    inputs: [b.txt]
    outputs: [out/b]
    cmd: mkdir -p out && cat out/a b.txt > out/b
  c:
    rule: run
    deps: [a]
    outputs: [out/c]
    env: [FLAVOUR]
    cmd: mkdir -p out && { cat out/a; echo "$FLAVOUR"; } > out/c
  d:
    rule: run
    deps: [b, c]
    outputs: [out/d]
    cmd: mkdir -p out && cat out/b out/c > out/d
`;

function diamond(): { ws: string; cache: string } {
  const ws = tempDir();
  writeFiles(ws, { 'kiln.yaml': DIAMOND, 'a.txt': 'A\n', 'b.txt': 'B\n' });
  return { ws, cache: tempDir('kiln-cache-') };
}

describe('kiln build', () => {
  it('builds cold, then is a no-op, then rebuilds only what a change reaches', async () => {
    const { ws, cache } = diamond();
    const env = { KILN_CACHE_DIR: cache, FLAVOUR: 'vanilla' };
    const cold = await buildWithSummary(ws, [], env);
    expect(cold.exitCode).toBe(0);
    expect(statuses(cold.summary).built).toEqual(['a', 'b', 'c', 'd']);
    expect(fs.readFileSync(path.join(ws, 'out/d'), 'utf8')).toBe('A\nB\nA\nvanilla\n');

    const noop = await buildWithSummary(ws, [], env);
    expect(statuses(noop.summary).cached).toEqual(['a', 'b', 'c', 'd']);
    expect(noop.summary.nodes.every((n) => n.cache === 'local')).toBe(true);

    fs.writeFileSync(path.join(ws, 'b.txt'), 'B2\n');
    const changed = await buildWithSummary(ws, [], env);
    expect(statuses(changed.summary)).toMatchObject({ built: ['b', 'd'], cached: ['a', 'c'] });

    const envChanged = await buildWithSummary(ws, [], { ...env, FLAVOUR: 'chocolate' });
    expect(statuses(envChanged.summary)).toMatchObject({ built: ['c', 'd'], cached: ['a', 'b'] });
  });

  it('writes the run summary in the documented format', async () => {
    const { ws, cache } = diamond();
    const { summary } = await buildWithSummary(ws, [], { KILN_CACHE_DIR: cache });
    expect(summary).toMatchObject({ version: 1, command: 'build' });
    expect(Number.isNaN(Date.parse(summary.startedAt))).toBe(false);
    expect(summary.durationMs).toBeGreaterThanOrEqual(0);
    for (const n of summary.nodes) {
      expect(Object.keys(n).sort()).toEqual(['cache', 'durationMs', 'error', 'id', 'key', 'outputDigest', 'rule', 'status']);
      expect(n.key).toMatch(/^[0-9a-f]{64}$/);
      expect(n.outputDigest).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('restores from the cache when outputs are deleted, and replays logs', async () => {
    const { ws, cache } = diamond();
    const env = { KILN_CACHE_DIR: cache, FLAVOUR: 'x' };
    await buildWithSummary(ws, [], env);
    fs.rmSync(path.join(ws, 'out'), { recursive: true });
    const again = await buildWithSummary(ws, [], env);
    expect(statuses(again.summary).cached).toEqual(['a', 'b', 'c', 'd']);
    expect(fs.readFileSync(path.join(ws, 'out/d'), 'utf8')).toBe('A\nB\nA\nx\n');
    expect(again.stdout).toContain('a (cached) | built-a');
  });

  it('with --logs none or failed, a cached node never opens its log: a log gone from the cache costs no rebuild', async () => {
    const { ws, cache } = diamond();
    const env = { KILN_CACHE_DIR: cache, FLAVOUR: 'x' };
    await buildWithSummary(ws, [], env);
    // The log blob of node a (it prints built-a), deleted: only a replay would need it.
    const casDir = path.join(cache, 'cas');
    const blobs = fs.readdirSync(casDir).flatMap((shard) => fs.readdirSync(path.join(casDir, shard)).map((b) => path.join(casDir, shard, b)));
    const logOfA = blobs.filter((b) => fs.readFileSync(b, 'utf8').includes('built-a'));
    expect(logOfA).toHaveLength(1);
    fs.rmSync(logOfA[0]!);
    for (const logs of ['none', 'failed']) {
      fs.rmSync(path.join(ws, 'out'), { recursive: true });
      const restored = await buildWithSummary(ws, ['--logs', logs], env);
      expect(statuses(restored.summary).cached, restored.stderr).toEqual(['a', 'b', 'c', 'd']);
      expect(restored.stderr).not.toContain('unusable');
      expect(fs.readFileSync(path.join(ws, 'out/d'), 'utf8')).toBe('A\nB\nA\nx\n');
      const noop = await buildWithSummary(ws, ['--logs', logs], env);
      expect(statuses(noop.summary).cached).toEqual(['a', 'b', 'c', 'd']);
    }
    // A replay finds it gone: the entry is unusable, and a is built again, with the same bytes.
    fs.rmSync(path.join(ws, 'out'), { recursive: true });
    const full = await buildWithSummary(ws, [], env);
    expect(full.exitCode, full.stderr).toBe(0);
    expect(statuses(full.summary).built).toEqual(['a']);
    expect(fs.readFileSync(path.join(ws, 'out/d'), 'utf8')).toBe('A\nB\nA\nx\n');
  });

  it('stops early cutoff: a dep rebuilt to identical bytes leaves dependents cached', async () => {
    const ws = tempDir();
    writeFiles(ws, {
      'kiln.yaml': `
nodes:
  len:
    rule: run
    inputs: [text.txt]
    outputs: [len.txt]
    cmd: wc -c < text.txt | tr -d ' ' > len.txt
  use:
    rule: run
    deps: [len]
    outputs: [use.txt]
    cmd: cp len.txt use.txt
`,
      'text.txt': 'abc\n',
    });
    const env = { KILN_CACHE_DIR: tempDir() };
    await buildWithSummary(ws, [], env);
    fs.writeFileSync(path.join(ws, 'text.txt'), 'xyz\n'); // same length: len.txt is byte-identical
    const r = await buildWithSummary(ws, [], env);
    expect(statuses(r.summary)).toMatchObject({ built: ['len'], cached: ['use'] });
  });

  it('shares cache entries between two checkouts at different absolute paths', async () => {
    const cache = tempDir('kiln-cache-');
    const first = diamond().ws;
    const second = tempDir('kiln-other-checkout-');
    fs.cpSync(first, second, { recursive: true });
    const env = { KILN_CACHE_DIR: cache, FLAVOUR: 'same' };
    const a = await buildWithSummary(first, [], env);
    const b = await buildWithSummary(second, [], env);
    expect(statuses(b.summary).cached).toEqual(['a', 'b', 'c', 'd']);
    expect(b.summary.nodes.map((n) => n.key)).toEqual(a.summary.nodes.map((n) => n.key));
    expect(fs.readFileSync(path.join(second, 'out/d'), 'utf8')).toBe(fs.readFileSync(path.join(first, 'out/d'), 'utf8'));
  });

  it('passes only declared env and essentials to commands', async () => {
    const ws = tempDir();
    writeFiles(ws, {
      'kiln.yaml': `
nodes:
  env:
    rule: run
    outputs: [env.txt]
    env: [DECLARED]
    cmd: env | cut -d= -f1 | sort > env.txt
`,
    });
    await buildWithSummary(ws, [], { KILN_CACHE_DIR: tempDir(), DECLARED: '1', UNDECLARED: '2' });
    const names = fs.readFileSync(path.join(ws, 'env.txt'), 'utf8').split('\n');
    expect(names).toContain('DECLARED');
    expect(names).not.toContain('UNDECLARED');
  });

  it('keys nodes by their toolchain versions (stdout or stderr), and locates a failing toolchain', async () => {
    const ws = tempDir();
    const version = path.join(ws, 'cc-version.txt');
    const yaml = (cmd: string) => `
toolchains:
  cc: ${cmd}
nodes:
  compiled:
    rule: run
    toolchain: [cc]
    outputs: [out.txt]
    cmd: echo compiled > out.txt
  plain:
    rule: run
    outputs: [plain.txt]
    cmd: echo plain > plain.txt
`;
    writeFiles(ws, { 'kiln.yaml': yaml(`cat ${version} >&2`), 'cc-version.txt': 'cc 1.0\n' });
    const env = { KILN_CACHE_DIR: tempDir() };
    expect(statuses((await buildWithSummary(ws, [], env)).summary).built).toEqual(['compiled', 'plain']);
    expect(statuses((await buildWithSummary(ws, [], env)).summary).cached).toEqual(['compiled', 'plain']);
    fs.writeFileSync(version, 'cc 1.1\n');
    expect(statuses((await buildWithSummary(ws, [], env)).summary)).toMatchObject({ built: ['compiled'], cached: ['plain'] });
    fs.writeFileSync(version, 'cc 1.2\n');
    expect((await kiln(ws, ['why', 'compiled'], env)).stdout).toContain("toolchain 'cc': \"cc 1.1\" -> \"cc 1.2\"");
    fs.writeFileSync(version, 'cc 1.1\n');

    writeFiles(ws, { 'kiln.yaml': yaml('exit 3') });
    const broken = await kiln(ws, ['build'], env);
    expect(broken.exitCode).toBe(2);
    expect(broken.stdout).toContain("kiln.yaml:3:3: toolchain 'cc': `exit 3` failed (3)");
  });

  it('kills a timed-out command with its whole process group, and names a command that cannot start', async () => {
    const ws = tempDir();
    writeFiles(ws, {
      'kiln.yaml': `
nodes:
  hangs:
    rule: run
    timeout: 1
    cmd: sleep 30 & echo $! > grandchild.pid; wait
  missing:
    rule: run
    cmd: [no-such-binary-anywhere, --flag]
`,
    });
    const r = await buildWithSummary(ws, ['-k'], { KILN_CACHE_DIR: tempDir() });
    expect(r.exitCode).toBe(1);
    const byId = Object.fromEntries(r.summary.nodes.map((n) => [n.id, n]));
    expect(byId.hangs).toMatchObject({ status: 'failed', error: 'timed out after 1s' });
    expect(byId.missing!.error).toMatch(/^cannot run 'no-such-binary-anywhere': .*ENOENT/);
    const grandchild = Number(fs.readFileSync(path.join(ws, 'grandchild.pid'), 'utf8'));
    await new Promise((res) => setTimeout(res, 200));
    expect(isAlive(grandchild)).toBe(false); // the background sleep died with its group
  });

  it('fails fast with exit 1, or keeps going with --keep-going', async () => {
    const ws = tempDir();
    writeFiles(ws, {
      'kiln.yaml': `
nodes:
  bad:
    rule: run
    cmd: echo boom >&2; exit 3
  after-bad:
    rule: run
    deps: [bad]
    cmd: "true"
  independent:
    rule: run
    deps: [slow]
    cmd: "true"
  slow:
    rule: run
    cmd: sleep 0.3
`,
    });
    const env = { KILN_CACHE_DIR: tempDir() };
    const failFast = await buildWithSummary(ws, ['-j', '1'], env);
    expect(failFast.exitCode).toBe(1);
    const byId = Object.fromEntries(failFast.summary.nodes.map((n) => [n.id, n]));
    expect(byId.bad).toMatchObject({ status: 'failed', error: 'command exited with code 3' });
    expect(byId['after-bad']).toMatchObject({ status: 'skipped', error: "dependency 'bad' failed" });
    expect(failFast.stdout).toContain('bad | boom');

    const keepGoing = await buildWithSummary(ws, ['-k'], env);
    expect(keepGoing.exitCode).toBe(1);
    expect(statuses(keepGoing.summary)).toMatchObject({ failed: ['bad'], skipped: ['after-bad'] });
    expect(statuses(keepGoing.summary).built.concat(statuses(keepGoing.summary).cached).sort()).toEqual(['independent', 'slow']);
  });

  it('fails a node whose declared output was not produced, and caches nothing for it', async () => {
    const ws = tempDir();
    writeFiles(ws, { 'kiln.yaml': 'nodes:\n  n:\n    rule: run\n    outputs: [missing.txt]\n    cmd: "true"\n' });
    const env = { KILN_CACHE_DIR: tempDir() };
    const r = await buildWithSummary(ws, [], env);
    expect(r.exitCode).toBe(1);
    expect(r.summary.nodes[0]).toMatchObject({ status: 'failed', error: 'declared output not produced: missing.txt' });
    const again = await buildWithSummary(ws, [], env);
    expect(again.summary.nodes[0]!.status).toBe('failed');
  });

  it('builds only selected targets and their deps', async () => {
    const { ws, cache } = diamond();
    const r = await buildWithSummary(ws, ['b'], { KILN_CACHE_DIR: cache });
    expect(statuses(r.summary).built).toEqual(['a', 'b']);
    expect(r.summary.nodes.find((n) => n.id === 'd')).toMatchObject({ status: 'skipped', error: 'not selected' });
  });

  it('--dry-run runs nothing and says what would run', async () => {
    const { ws, cache } = diamond();
    const env = { KILN_CACHE_DIR: cache, FLAVOUR: 'v' };
    const dry = await buildWithSummary(ws, ['--dry-run'], env);
    expect(dry.summary.dryRun).toBe(true);
    expect(statuses(dry.summary).skipped).toEqual(['a', 'b', 'c', 'd']);
    expect(fs.existsSync(path.join(ws, 'out'))).toBe(false);
    await buildWithSummary(ws, [], env);
    fs.writeFileSync(path.join(ws, 'b.txt'), 'changed\n');
    const dry2 = await buildWithSummary(ws, ['--dry-run'], env);
    expect(statuses(dry2.summary)).toMatchObject({ cached: ['a', 'c'], skipped: ['b', 'd'] });
    // The log says what a dry run means: these would run.
    expect(dry2.stdout).toMatch(/^\[\d\/4\] would run b: no cache entry for its key$/m);
    expect(dry2.stdout).toMatch(/^\[\d\/4\] would run d: dependency 'b' would run$/m);
    expect(dry2.stdout).toMatch(/^kiln: dry run: 4 nodes, 0 built, 2 cached, 0 failed, 2 would run, 0 skipped in /m);
  });

  it('rehashes a file rewritten with the same size and mtime moments after hashing (racy timestamps)', async () => {
    const ws = tempDir();
    writeFiles(ws, { 'kiln.yaml': 'nodes:\n  n:\n    rule: run\n    inputs: [f]\n    outputs: [g]\n    cmd: cp f g\n', f: 'one\n' });
    const env = { KILN_CACHE_DIR: tempDir() };
    const st = fs.statSync(path.join(ws, 'f'));
    await buildWithSummary(ws, [], env);
    fs.writeFileSync(path.join(ws, 'f'), 'two\n');
    fs.utimesSync(path.join(ws, 'f'), st.atime, st.mtime); // same size, same mtime as when hashed
    const r = await buildWithSummary(ws, [], env);
    expect(statuses(r.summary).built).toEqual(['n']);
    expect(fs.readFileSync(path.join(ws, 'g'), 'utf8')).toBe('two\n');
  });
});

describe('kiln why', () => {
  it('names the changed file, dependency and env var', async () => {
    const { ws, cache } = diamond();
    const env = { KILN_CACHE_DIR: cache, FLAVOUR: 'one' };
    await buildWithSummary(ws, [], env);
    fs.writeFileSync(path.join(ws, 'a.txt'), 'A2\n');
    const a = await kiln(ws, ['why', 'a'], env);
    expect(a.stdout).toMatch(/^a: will rebuild \(key [0-9a-f]{12} -> [0-9a-f]{12}\) because:\n {2}input file 'a.txt': content changed$/m);
    await buildWithSummary(ws, ['a'], env);
    const c = await kiln(ws, ['why', 'c'], { ...env, FLAVOUR: 'two' });
    expect(c.stdout).toContain("dependency 'a': outputs changed");
    expect(c.stdout).toContain(`env 'FLAVOUR': "one" -> "two"`);
    await buildWithSummary(ws, [], env);
    const upToDate = await kiln(ws, ['why', 'd'], env);
    expect(upToDate.stdout).toMatch(/^d: up to date/);
  });
});

describe('workspace snapshot', () => {
  it('notices an edited build file and a newly included one', async () => {
    const ws = tempDir();
    writeFiles(ws, {
      'kiln.yaml': 'include: ["sub/*/kiln.yaml"]\nnodes:\n  a:\n    rule: run\n    outputs: [a]\n    cmd: echo 1 > a\n',
      'sub/one/kiln.yaml': 'nodes:\n  one:\n    rule: run\n    cmd: "true"\n',
    });
    const env = { KILN_CACHE_DIR: tempDir() };
    expect(statuses((await buildWithSummary(ws, [], env)).summary).built).toEqual(['a', 'one']);
    writeFiles(ws, { 'sub/two/kiln.yaml': 'nodes:\n  two:\n    rule: run\n    cmd: "true"\n' });
    expect(statuses((await buildWithSummary(ws, [], env)).summary)).toMatchObject({ built: ['two'], cached: ['a', 'one'] });
    writeFiles(ws, { 'kiln.yaml': 'include: ["sub/*/kiln.yaml"]\nnodes:\n  a:\n    rule: run\n    outputs: [a]\n    cmd: echo 2 > a\n' });
    expect(statuses((await buildWithSummary(ws, [], env)).summary).built).toEqual(['a']);
    writeFiles(ws, { 'sub/one/kiln.yaml': 'nodes:\n  one:\n    rule: run\n    cmd: "true"\n    bogus: 1\n' });
    const broken = await kiln(ws, ['build'], env);
    expect(broken.exitCode).toBe(2);
    expect(broken.stderr).toContain("sub/one/kiln.yaml:5:5: unknown key 'bogus'");
  });
});

