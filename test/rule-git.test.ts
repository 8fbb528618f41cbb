// The git rule against real repositories made in temp dirs: keys follow the
// tree (narrowed to `paths`), metadata follows the commit, overrides build
// speculative refs and dirty checkouts without touching the real ref's
// cache entries, and mistakes are one clear line.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildWithSummary, kiln, statuses, tempDir, writeFiles } from './kiln.js';
import { mirrorPath } from '../rules/git.js';
import type { RunSummary } from '../engine/pipeline/summary.js';

/** No user or system git config may change what these tests see. */
const GIT_ISOLATION = { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };

/** An upstream repository whose commits have fixed authors and dates, so their ids are reproducible. */
class Repo {
  private n = 0;
  constructor(readonly dir: string, init = true) {
    if (init) this.git('init', '--quiet', '--initial-branch=main');
  }

  git(...args: string[]): string {
    const date = `@${1_700_000_000 + this.n * 3600} +0000`;
    return execFileSync('git', args, {
      cwd: this.dir,
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH,
        HOME: this.dir,
        ...GIT_ISOLATION,
        GIT_AUTHOR_NAME: 'Up Stream',
        GIT_AUTHOR_EMAIL: 'up@example.org',
        GIT_COMMITTER_NAME: 'Up Stream',
        GIT_COMMITTER_EMAIL: 'up@example.org',
        GIT_AUTHOR_DATE: date,
        GIT_COMMITTER_DATE: date,
      },
    }).trim();
  }

  /** Writes files (null deletes), commits everything, returns the commit id. */
  commit(message: string, files: Record<string, string | null> = {}, opts: { exec?: string[]; links?: Record<string, string> } = {}): string {
    for (const [rel, content] of Object.entries(files)) {
      const abs = path.join(this.dir, rel);
      if (content === null) fs.rmSync(abs, { force: true });
      else writeFiles(this.dir, { [rel]: content });
    }
    for (const rel of opts.exec ?? []) fs.chmodSync(path.join(this.dir, rel), 0o755);
    for (const [rel, target] of Object.entries(opts.links ?? {})) fs.symlinkSync(target, path.join(this.dir, rel));
    this.n++;
    this.git('add', '--all');
    this.git('commit', '--quiet', '--allow-empty', '-m', message);
    return this.git('rev-parse', 'HEAD');
  }

  merge(branch: string, message: string): string {
    this.n++;
    this.git('merge', '--quiet', '--no-ff', '-m', message, branch);
    return this.git('rev-parse', 'HEAD');
  }
}

function upstream(): Repo {
  const repo = new Repo(tempDir('kiln-upstream-'));
  repo.commit('Initial import\n\nWith a body.', {
    'a.txt': 'alpha\n',
    'lib/b.txt': 'beta\n',
    'docs/index.rst': 'docs\n',
    'setup.cfg': '[metadata]\nname = proj\n',
    'tools/run.sh': '#!/bin/sh\necho run\n',
    'bin.dat': '\u0000\u0001\u00ff\r\n',
  }, { exec: ['tools/run.sh'], links: { 'link.txt': 'a.txt' } });
  repo.git('tag', '-a', '-m', 'release 1.0.0', '1.0.0');
  return repo;
}

/** A git node `proj` plus `pkg` (uses the version, reads a file) and `check` (reads files only). */
function projectYaml(url: string, extra = ''): string {
  return `
nodes:
  proj:
    rule: git
    url: ${url}
    ref: main
    outputs: [src]
${extra}  pkg:
    rule: run
    deps: [proj]
    uses: [proj.version]
    outputs: [pkg.txt]
    cmd: '{ echo "$KILN_PROJ_VERSION"; cat src/a.txt; } > pkg.txt'
  check:
    rule: run
    deps: [proj]
    outputs: [check.txt]
    cmd: cat src/a.txt src/lib/b.txt > check.txt
`;
}

function workspace(yaml: string): { ws: string; env: Record<string, string> } {
  const ws = tempDir('kiln-ws-');
  writeFiles(ws, { 'kiln.yaml': yaml });
  return { ws, env: { KILN_CACHE_DIR: tempDir('kiln-cache-'), ...GIT_ISOLATION } };
}

const read = (ws: string, rel: string) => fs.readFileSync(path.join(ws, rel), 'utf8');
const node = (s: RunSummary, id: string) => s.nodes.find((n) => n.id === id)!;
const short = (sha: string) => sha.slice(0, 7);

describe('rule git', () => {
  it('keys the project by its tree: upstream content changes rebuild, an empty commit rebuilds only version users', async () => {
    const up = upstream();
    const c2 = up.commit('Change alpha', { 'a.txt': 'alpha 2\n' });
    const { ws, env } = workspace(projectYaml(up.dir));

    const cold = await buildWithSummary(ws, [], env);
    expect(cold.exitCode, cold.stderr + cold.stdout).toBe(0);
    expect(statuses(cold.summary).built).toEqual(['check', 'pkg', 'proj']);
    // Exact bytes, exec bits, symlinks.
    expect(fs.readFileSync(path.join(ws, 'src/bin.dat'))).toEqual(Buffer.from('\u0000\u0001\u00ff\r\n'));
    expect(fs.statSync(path.join(ws, 'src/tools/run.sh')).mode & 0o777).toBe(0o755);
    expect(fs.statSync(path.join(ws, 'src/setup.cfg')).mode & 0o111).toBe(0);
    expect(fs.readlinkSync(path.join(ws, 'src/link.txt'))).toBe('a.txt');
    expect(fs.readdirSync(path.join(ws, 'src')).sort()).toEqual(['a.txt', 'bin.dat', 'docs', 'lib', 'link.txt', 'setup.cfg', 'tools']);
    expect(read(ws, 'pkg.txt')).toBe(`1.0.1.dev1+g${short(c2)}\nalpha 2\n`);

    const noop = await buildWithSummary(ws, [], env);
    expect(statuses(noop.summary).cached).toEqual(['check', 'pkg', 'proj']);

    up.commit('Change beta', { 'lib/b.txt': 'beta 2\n' });
    const changed = await buildWithSummary(ws, [], env);
    expect(statuses(changed.summary).built).toEqual(['check', 'pkg', 'proj']);
    expect(read(ws, 'check.txt')).toBe('alpha 2\nbeta 2\n');

    const c4 = up.commit('Nothing at all');
    const empty = await buildWithSummary(ws, [], env);
    expect(statuses(empty.summary)).toMatchObject({ built: ['pkg'], cached: ['check', 'proj'] });
    expect(node(empty.summary, 'proj').key).toBe(node(changed.summary, 'proj').key);
    expect(read(ws, 'pkg.txt')).toBe(`1.0.1.dev3+g${short(c4)}\nalpha 2\n`);
  });

  it('narrows the key to `paths`: commits elsewhere are free hits', async () => {
    const up = upstream();
    const yaml = projectYaml(up.dir).replace('outputs: [src]\n', 'outputs: [src]\n    paths: [lib, ./a.txt, tools/run.sh]\n');
    const { ws, env } = workspace(yaml);
    const cold = await buildWithSummary(ws, [], env);
    expect(cold.exitCode, cold.stderr + cold.stdout).toBe(0);
    expect(fs.readdirSync(path.join(ws, 'src')).sort()).toEqual(['a.txt', 'lib', 'tools']);
    expect(fs.readdirSync(path.join(ws, 'src/tools'))).toEqual(['run.sh']);

    up.commit('Docs only', { 'docs/index.rst': 'more docs\n', 'setup.cfg': 'changed\n' });
    const elsewhere = await buildWithSummary(ws, [], env);
    // The version moved (pkg uses it); the tree-only dependent and the project itself are hits.
    expect(statuses(elsewhere.summary)).toMatchObject({ built: ['pkg'], cached: ['check', 'proj'] });

    fs.chmodSync(path.join(up.dir, 'tools/run.sh'), 0o644);
    up.commit('Drop the exec bit');
    const mode = await buildWithSummary(ws, [], env);
    expect(statuses(mode.summary).built).toContain('proj');
    expect(fs.statSync(path.join(ws, 'src/tools/run.sh')).mode & 0o111).toBe(0);

    writeFiles(ws, { 'kiln.yaml': yaml.replace('paths: [lib,', 'paths: [nope, lib,') });
    const missing = await buildWithSummary(ws, [], env);
    expect(missing.exitCode).toBe(1);
    const head = up.git('rev-parse', 'HEAD');
    expect(node(missing.summary, 'proj').error).toBe(`path 'nope' not found at commit ${head.slice(0, 12)} of ${up.dir} (ref 'main')`);
  });

  it('resolves branches, annotated tags, full and short commit ids and full ref names', async () => {
    const up = upstream();
    const tagged = up.git('rev-parse', 'HEAD');
    up.git('branch', 'stable/2024.1');
    const c2 = up.commit('Second', { 'a.txt': 'two\n' });
    const c3 = up.commit('Third', { 'a.txt': 'three\n' });
    up.git('update-ref', 'refs/changes/45/12345/2', c2);
    const kinds: Record<string, string> = { branch: 'stable/2024.1', tag: '1.0.0', full: c2, short: c3.slice(0, 10), change: 'refs/changes/45/12345/2' };
    let yaml = 'nodes:\n';
    for (const [id, ref] of Object.entries(kinds)) yaml += `  ${id}:\n    rule: git\n    url: file://${up.dir}\n    ref: ${ref}\n    outputs: [${id}]\n`;
    const ids = Object.keys(kinds);
    yaml += `  meta:\n    rule: run\n    deps: [${ids.join(', ')}]\n    uses: [${ids.map((i) => `${i}.commit`).join(', ')}]\n    outputs: [meta.txt]\n`;
    yaml += `    cmd: echo ${ids.map((i) => `$KILN_${i.toUpperCase()}_COMMIT`).join(' ')} > meta.txt\n`;
    const { ws, env } = workspace(yaml);
    const r = await buildWithSummary(ws, [], env);
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    expect(read(ws, 'meta.txt')).toBe(`${[tagged, tagged, c2, c3, c2].join(' ')}\n`);
    expect(['branch', 'tag', 'full', 'short', 'change'].map((d) => read(ws, `${d}/a.txt`))).toEqual(['alpha\n', 'alpha\n', 'two\n', 'three\n', 'two\n']);
  });

  it('publishes the documented metadata and pbr-style versions', async () => {
    const up = upstream();
    const t1 = up.git('rev-parse', 'HEAD');
    up.git('tag', '0.9.0'); // two release tags on one commit: the highest wins
    up.git('tag', 'v2.0.0'); // not X.Y.Z: ignored
    up.commit('Main 1');
    up.git('checkout', '--quiet', '-b', 'feature');
    up.commit('Feature 1', { 'f.txt': '1\n' });
    up.commit('Feature 2', { 'f.txt': '2\n' });
    up.git('tag', '5.0.0'); // only on the merged side branch: first-parent history skips it
    up.git('checkout', '--quiet', 'main');
    up.commit('Main 2', { 'm.txt': 'm\n' });
    up.merge('feature', 'Merge feature');
    const tip = up.commit('Main 3: the tip\n\nbody line');
    const describe = up.git('describe', '--tags', '--first-parent', '--long', '--match', '[0-9]*', tip);
    const notag = new Repo(tempDir('kiln-upstream-'));
    notag.commit('one', { 'x.txt': 'x\n' });
    const nt = notag.commit('two', { 'x.txt': 'y\n' });

    const names = ['commit', 'tree', 'date', 'epoch', 'version', 'url', 'ref', 'subject', 'mirror'];
    const yaml = `
nodes:
  exact:
    rule: git
    url: ${up.dir}
    ref: 1.0.0
    outputs: [exact]
  tip:
    rule: git
    url: ${up.dir}
    ref: main
    outputs: [tip]
  notag:
    rule: git
    url: ${notag.dir}
    ref: main
    outputs: [notag]
  show:
    rule: run
    deps: [exact, tip, notag]
    uses: [exact.version, notag.version, ${names.map((n) => `tip.${n}`).join(', ')}]
    outputs: [meta.txt]
    cmd: env | grep '^KILN_' | grep -v '_DIR=' | sort > meta.txt
`;
    const { ws, env } = workspace(yaml);
    const r = await buildWithSummary(ws, [], env);
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    const tipTree = up.git('rev-parse', `${tip}^{tree}`);
    expect(describe).toBe(`1.0.0-4-g${short(tip)}`);
    expect(read(ws, 'meta.txt')).toBe(
      [
        'KILN_EXACT_VERSION=1.0.0',
        `KILN_NOTAG_VERSION=0.0.0.dev2+g${short(nt)}`,
        `KILN_TIP_COMMIT=${tip}`,
        `KILN_TIP_DATE=${new Date((1_700_000_000 + 7 * 3600) * 1000).toISOString().replace('.000Z', 'Z')}`,
        `KILN_TIP_EPOCH=${1_700_000_000 + 7 * 3600}`,
        `KILN_TIP_MIRROR=${mirrorPath(env.KILN_CACHE_DIR!, up.dir)}`,
        'KILN_TIP_REF=main',
        'KILN_TIP_SUBJECT=Main 3: the tip',
        `KILN_TIP_TREE=${tipTree}`,
        `KILN_TIP_URL=${up.dir}`,
        `KILN_TIP_VERSION=1.0.1.dev4+g${short(tip)}`,
        '',
      ].join('\n'),
    );
    expect(t1).not.toBe(tip);
  });

  it('fails a missing ref or an unreachable URL with one clear line naming both', async () => {
    const up = upstream();
    const gone = path.join(tempDir('kiln-gone-'), 'nowhere');
    const { ws, env } = workspace(`
nodes:
  missing:
    rule: git
    url: ${up.dir}
    ref: no-such-branch
    outputs: [a]
  gone:
    rule: git
    url: ${gone}
    ref: main
    outputs: [b]
  badsha:
    rule: git
    url: ${up.dir}
    ref: '${'0'.repeat(40)}'
    outputs: [c]
`);
    const r = await buildWithSummary(ws, ['--keep-going'], env);
    expect(r.exitCode).toBe(1);
    const errors = Object.fromEntries(r.summary.nodes.map((n) => [n.id, n.error]));
    expect(errors).toEqual({
      missing: `cannot resolve ref 'no-such-branch' of ${up.dir}: no such branch, tag or commit (couldn't find remote ref no-such-branch)`,
      gone: `cannot fetch ${gone} (ref 'main'): '${gone}' does not appear to be a git repository`,
      badsha: expect.stringMatching(new RegExp(`^cannot resolve ref '0{40}' of ${up.dir}: no such branch, tag or commit \\(.+\\)$`)),
    });
    expect(r.stdout).toContain(`kiln: FAILED gone: ${errors.gone}\n`);
    expect(r.stdout + r.stderr).not.toMatch(/\n\s+at /);
    expect(fs.readdirSync(path.join(env.KILN_CACHE_DIR!, 'git'))).not.toContain(path.basename(mirrorPath(env.KILN_CACHE_DIR!, gone)));
  });

  it('--offline uses the mirror as it is, and fails clearly without one', async () => {
    const up = upstream();
    const { ws, env } = workspace(projectYaml(up.dir));
    const none = await buildWithSummary(ws, ['--offline'], env);
    expect(none.exitCode).toBe(1);
    expect(node(none.summary, 'proj').error).toBe(
      `cannot resolve ref 'main' of ${up.dir}: no mirror of it in the cache yet and --offline forbids fetching (build once online)`,
    );

    expect((await buildWithSummary(ws, [], env)).exitCode).toBe(0);
    up.commit('New upstream work', { 'a.txt': 'newer\n' });
    const offline = await buildWithSummary(ws, ['--offline'], env);
    expect(statuses(offline.summary).cached).toEqual(['check', 'pkg', 'proj']);
    expect(read(ws, 'src/a.txt')).toBe('alpha\n');
    const online = await buildWithSummary(ws, [], env);
    expect(statuses(online.summary).built).toEqual(['check', 'pkg', 'proj']);
    expect(read(ws, 'src/a.txt')).toBe('newer\n');

    // Upstream unreachable: a clear failure that points at --offline, which still builds.
    fs.renameSync(up.dir, `${up.dir}.away`);
    const unreachable = await buildWithSummary(ws, [], env);
    expect(node(unreachable.summary, 'proj').error).toBe(
      `cannot fetch ${up.dir} (ref 'main'): '${up.dir}' does not appear to be a git repository (--offline builds from the mirror as it is)`,
    );
    const stillOffline = await buildWithSummary(ws, ['--offline'], env);
    expect(statuses(stillOffline.summary).cached).toEqual(['check', 'pkg', 'proj']);
  });

  it('--override builds another branch or an unmerged change, leaving the real ref cached', async () => {
    const up = upstream();
    up.git('checkout', '--quiet', '-b', 'feature');
    up.commit('Feature work', { 'a.txt': 'feature\n' });
    up.git('checkout', '--quiet', 'main');
    const change = up.commit('Proposed change', { 'a.txt': 'proposed\n' });
    up.git('update-ref', 'refs/changes/12/34/5', change);
    up.git('reset', '--quiet', '--hard', 'HEAD~1');
    const { ws, env } = workspace(projectYaml(up.dir));
    const normal = await buildWithSummary(ws, [], env);
    expect(normal.exitCode, normal.stderr + normal.stdout).toBe(0);

    const branch = await buildWithSummary(ws, ['--override', 'proj=feature'], env);
    expect(statuses(branch.summary).built).toEqual(['check', 'pkg', 'proj']);
    expect(read(ws, 'src/a.txt')).toBe('feature\n');
    expect(node(branch.summary, 'proj').notes?.[0]).toMatch(/^override: ref 'feature' \(commit [0-9a-f]{12}\) instead of 'main'$/);

    const gerrit = await buildWithSummary(ws, ['--override', 'proj=refs/changes/12/34/5'], env);
    expect(statuses(gerrit.summary).built).toEqual(['check', 'pkg', 'proj']);
    expect(read(ws, 'pkg.txt')).toBe(`1.0.1.dev1+g${short(change)}\nproposed\n`);
    const mirror = mirrorPath(env.KILN_CACHE_DIR!, up.dir);
    expect(execFileSync('git', ['--git-dir', mirror, 'rev-parse', 'refs/kiln/override/changes/12/34/5'], { encoding: 'utf8' }).trim()).toBe(change);

    const back = await buildWithSummary(ws, [], env);
    expect(statuses(back.summary).cached).toEqual(['check', 'pkg', 'proj']);
    expect(read(ws, 'src/a.txt')).toBe('alpha\n');
  });

  it('--override with a local checkout builds it as it is, uncommitted changes included, without touching its index', async () => {
    const up = upstream();
    const head = up.commit('Tip', { 'a.txt': 'tip\n' });
    const { ws, env } = workspace(projectYaml(up.dir));
    expect((await buildWithSummary(ws, [], env)).exitCode).toBe(0);

    const co = new Repo(path.join(tempDir('kiln-checkout-'), 'proj'), false);
    execFileSync('git', ['clone', '--quiet', up.dir, co.dir], { env: { ...process.env, ...GIT_ISOLATION } });
    const clean = await buildWithSummary(ws, ['--override', `proj=${co.dir}`], env);
    // A clean checkout of the same commit is the same tree: nothing to build.
    expect(statuses(clean.summary).cached).toEqual(['check', 'pkg', 'proj']);

    writeFiles(co.dir, { 'a.txt': 'edited, not staged\n', 'new.txt': 'untracked\n', 'lib/b.txt': 'staged\n', 'ignored.log': 'x\n', '.gitignore': '*.log\n' });
    co.git('add', 'lib/b.txt');
    const indexBefore = co.git('ls-files', '--stage');
    const statusBefore = co.git('status', '--porcelain');
    const dirty = await buildWithSummary(ws, ['--override', `proj=${co.dir}`], env);
    expect(dirty.exitCode, dirty.stderr + dirty.stdout).toBe(0);
    expect(statuses(dirty.summary).built).toEqual(['check', 'pkg', 'proj']);
    expect(read(ws, 'pkg.txt')).toBe(`1.0.1.dev1+g${short(head)}.dirty\nedited, not staged\n`);
    expect(read(ws, 'check.txt')).toBe('edited, not staged\nstaged\n');
    expect(read(ws, 'src/new.txt')).toBe('untracked\n');
    expect(fs.existsSync(path.join(ws, 'src/ignored.log'))).toBe(false);
    expect(node(dirty.summary, 'proj').notes).toEqual([`override: checkout ${co.dir} at ${head.slice(0, 12)} with uncommitted changes`]);
    expect(co.git('ls-files', '--stage')).toBe(indexBefore);
    expect(co.git('status', '--porcelain')).toBe(statusBefore);

    const back = await buildWithSummary(ws, [], env);
    expect(statuses(back.summary).cached).toEqual(['check', 'pkg', 'proj']);
    expect(read(ws, 'src/a.txt')).toBe('tip\n');

    const notCheckout = await buildWithSummary(ws, ['--override', `proj=${path.join(co.dir, 'lib')}`], env);
    expect(node(notCheckout.summary, 'proj').error).toBe(`override: ${path.join(co.dir, 'lib')} is not the top directory of a git checkout`);
  });

  it('shares cache entries between two checkouts, and exports byte-identical trees from separate caches', async () => {
    const up = upstream();
    const yaml = projectYaml(up.dir);
    const first = workspace(yaml);
    const second = workspace(yaml);
    second.env.KILN_CACHE_DIR = first.env.KILN_CACHE_DIR!;
    const a = await buildWithSummary(first.ws, [], first.env);
    const b = await buildWithSummary(second.ws, [], second.env);
    expect(statuses(b.summary).cached).toEqual(['check', 'pkg', 'proj']);
    expect(b.summary.nodes.map((n) => n.key)).toEqual(a.summary.nodes.map((n) => n.key));

    const third = workspace(yaml); // its own, empty cache
    const c = await buildWithSummary(third.ws, [], third.env);
    expect(statuses(c.summary).built).toEqual(['check', 'pkg', 'proj']);
    expect(c.summary.nodes.map((n) => [n.key, n.outputDigest])).toEqual(a.summary.nodes.map((n) => [n.key, n.outputDigest]));
  });

  it('serialises kiln processes on a mirror: concurrent first use, stale locks, waiting and timing out', async () => {
    const up = upstream();
    const yaml = projectYaml(up.dir);
    const one = workspace(yaml);
    const two = workspace(yaml);
    two.env.KILN_CACHE_DIR = one.env.KILN_CACHE_DIR!;
    const env = one.env;
    const [a, b] = await Promise.all([buildWithSummary(one.ws, [], env), buildWithSummary(two.ws, [], env)]);
    expect([a.exitCode, b.exitCode], a.stderr + b.stderr).toEqual([0, 0]);
    expect(fs.readdirSync(path.join(env.KILN_CACHE_DIR!, 'git'))).toEqual([path.basename(mirrorPath(env.KILN_CACHE_DIR!, up.dir))]);

    const lock = `${mirrorPath(env.KILN_CACHE_DIR!, up.dir)}.lock`;
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    fs.writeFileSync(lock, JSON.stringify({ pid: dead, host: os.hostname(), since: 'then' }));
    up.commit('More', { 'a.txt': 'more\n' });
    const stale = await buildWithSummary(one.ws, [], env);
    expect(stale.exitCode, stale.stderr).toBe(0);
    expect(read(one.ws, 'src/a.txt')).toBe('more\n');
    expect(fs.existsSync(lock)).toBe(false);

    fs.writeFileSync(lock, JSON.stringify({ pid: process.pid, host: os.hostname(), since: 'now' }));
    const timedOut = await buildWithSummary(one.ws, [], { ...env, KILN_GIT_LOCK_TIMEOUT: '1' });
    expect(node(timedOut.summary, 'proj').error).toBe(
      `timed out after 1s waiting for the mirror of ${up.dir}, locked by pid ${process.pid} on ${os.hostname()} since now ` +
        `(if no kiln process is using it, remove ${lock})`,
    );
    const started = Date.now();
    setTimeout(() => fs.rmSync(lock), 1500);
    const waited = await buildWithSummary(one.ws, [], env);
    expect(waited.exitCode).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
  });

  it('reports build-file mistakes with their location', async () => {
    const { ws, env } = workspace(`
nodes:
  noout:
    rule: git
    url: /x
    ref: main
  badpaths:
    rule: git
    url: /x
    ref: -main
    paths: [../up, lib, /abs]
    outputs: [src]
  overlap:
    rule: git
    url: /x
    ref: '2024.1'
    paths: [lib, docs, lib/sub]
    outputs: [src2]
  number:
    rule: git
    url: /x
    ref: 2024.1
    outputs: [src3]
`);
    const load = await kiln(ws, ['build', 'badpaths'], env);
    expect(load.exitCode).toBe(2);
    expect(load.stderr.split('\n')).toEqual([
      "kiln: kiln.yaml:10:10: ref: expected a branch, tag, commit id or full ref name (no spaces, no leading '-', none of ~ ^ : ? * [ \\)",
      'kiln: kiln.yaml:11:13: paths[0]: expected a path inside the repository (for the whole repository, leave out paths)',
      'kiln: kiln.yaml:11:25: paths[2]: expected a path relative to the repository root, not an absolute path',
      'kiln: kiln.yaml:17:12: paths: paths may not repeat or contain one another',
      "kiln: kiln.yaml:22:10: ref: expected a branch, tag or commit id (quote it if YAML reads it as a number: ref: '2024.1')",
    ]);

    writeFiles(ws, { 'kiln.yaml': 'nodes:\n  noout:\n    rule: git\n    url: /x\n    ref: main\n' });
    const r = await kiln(ws, ['build'], env);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toContain("kiln: FAILED noout: kiln.yaml:2:3: rule git needs exactly one output, the directory the tree is exported into; node 'noout' declares none\n  hint: e.g. outputs: [src]");
  });
});
