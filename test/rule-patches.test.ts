// The `patches` rule against real git: an upstream repository chased by a
// `git` node, a downstream clone whose commits are exported with
// `git format-patch` into a quilt series, and kiln building the patched
// tree and a node that consumes it.
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { normalisePatch, parseSeries, touchedPaths } from '../rules/patches/series.js';
import { buildWithSummary, statuses, tempDir, writeFiles } from './kiln.js';

const GIT_ENV = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: process.env.HOME ?? '/tmp',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'Upstream Dev',
  GIT_AUTHOR_EMAIL: 'dev@example.org',
  GIT_COMMITTER_NAME: 'Upstream Dev',
  GIT_COMMITTER_EMAIL: 'dev@example.org',
  GIT_AUTHOR_DATE: '2026-11-01T10:00:00Z',
  GIT_COMMITTER_DATE: '2026-11-01T10:00:00Z',
};

async function git(cwd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const r = await execa('git', args, { cwd, env: { ...GIT_ENV, ...env }, extendEnv: false });
  return r.stdout;
}

/** app.py: `value_NN = NN` for NN = 01..40. */
function appPy(edit: (lines: string[]) => void = () => {}): string {
  const lines = Array.from({ length: 40 }, (_, i) => `value_${String(i + 1).padStart(2, '0')} = ${i + 1}`);
  edit(lines);
  return `${lines.join('\n')}\n`;
}

const SERIES = `# internal patches, applied in order

0001-Make-value-10-bigger.patch
   # features
0002-Add-feature-module.patch -p1
0003-readme.diff
`;

/** A plain unified diff (no mail headers, no index lines), as `diff -u` or a hand edit gives. */
const README_DIFF = `--- a/README
+++ b/README
@@ -1,2 +1,3 @@
 Upstream project
+Carried downstream by rackstack.
 See app.py.
`;

interface Setup {
  root: string;
  upstream: string;
  down: string;
  ws: string;
  env: Record<string, string>;
}

/**
 * An upstream repo (master), a downstream clone with two commits exported
 * by format-patch, and a workspace: git node -> patches node -> consumer.
 */
async function setup(): Promise<Setup> {
  const root = tempDir('kiln-patches-');
  const upstream = path.join(root, 'upstream');
  fs.mkdirSync(upstream);
  await git(upstream, ['init', '-q', '-b', 'master']);
  writeFiles(upstream, { 'app.py': appPy(), README: 'Upstream project\nSee app.py.\n', 'lib/util.py': 'def util():\n    return 1\n' });
  await git(upstream, ['add', '-A']);
  await git(upstream, ['commit', '-q', '-m', 'Initial import']);

  const down = path.join(root, 'down');
  await git(root, ['clone', '-q', upstream, down]);
  writeFiles(down, { 'app.py': appPy((l) => (l[9] = 'value_10 = 1000')) });
  await git(down, ['commit', '-q', '-am', 'Make value 10 bigger', '-m', 'Our customers need more.'], { GIT_AUTHOR_NAME: 'Ops Person' });
  writeFiles(down, { 'feature.py': 'def feature():\n    return "downstream"\n' });
  await git(down, ['add', 'feature.py']);
  await git(down, ['commit', '-q', '-m', 'Add feature module']);

  const ws = path.join(root, 'ws');
  writeFiles(ws, {
    'kiln.yaml': `nodes:
  nova:
    rule: git
    url: ${upstream}
    ref: master
    outputs: [build/src]
  nova-patched:
    rule: patches
    deps: [nova]
    series: patches/series
    outputs: [build/patched]
  consumer:
    rule: run
    deps: [nova-patched]
    outputs: [build/consumed.txt]
    cmd: cat build/patched/app.py build/patched/feature.py build/patched/README > build/consumed.txt
`,
    'patches/series': SERIES,
    'patches/0003-readme.diff': README_DIFF,
  });
  await git(down, ['format-patch', '-q', '-o', path.join(ws, 'patches'), 'HEAD~2']);
  await git(ws, ['init', '-q']); // workspaces live in git repos: the rule must not mistake it for the tree's
  return { root, upstream, down, ws, env: { KILN_CACHE_DIR: path.join(root, 'cache') } };
}

const byId = (s: { nodes: { id: string }[] }, id: string) => s.nodes.find((n) => n.id === id) as {
  id: string; key: string; status: string; outputDigest: string | null; error: string | null; notes?: string[];
};

/** Commits a change upstream and returns the new commit id. */
async function upstreamCommit(s: Setup, files: Record<string, string>, message: string): Promise<string> {
  writeFiles(s.upstream, files);
  await git(s.upstream, ['add', '-A']);
  await git(s.upstream, ['commit', '-q', '-m', message]);
  return git(s.upstream, ['rev-parse', 'HEAD']);
}

const read = (s: Setup, rel: string) => fs.readFileSync(path.join(s.ws, rel), 'utf8');

describe('series and normalisation', () => {
  it('parses a quilt series: comments, blank lines, -pN', () => {
    const r = parseSeries(SERIES);
    expect(r).toEqual({
      ok: true,
      entries: [
        { name: '0001-Make-value-10-bigger.patch', strip: 1, line: 3 },
        { name: '0002-Add-feature-module.patch', strip: 1, line: 5 },
        { name: '0003-readme.diff', strip: 1, line: 6 },
      ],
    });
    expect(parseSeries('a.patch -p0 # root-relative\n')).toEqual({ ok: true, entries: [{ name: 'a.patch', strip: 0, line: 1 }] });
    expect(parseSeries('a.patch -R\n')).toMatchObject({ ok: false, error: expect.stringContaining("unsupported option '-R'") });
    expect(parseSeries('a.patch\nb.patch\na.patch\n')).toMatchObject({ ok: false, error: expect.stringContaining('listed twice') });
  });

  it('normalises away the From sha, index lines, [PATCH n/m], the diffstat and the version trailer', () => {
    const a = `From 1111111111111111111111111111111111111111 Mon Sep 17 00:00:00 2001
From: A <a@example.org>
Date: Sat, 1 Nov 2026 10:00:00 +0000
Subject: [PATCH 1/3] Fix it

Body.
---
 f | 2 +-
 1 file changed, 1 insertion(+), 1 deletion(-)

diff --git a/f b/f
index 0719398..4c5701d 100644
--- a/f
+++ b/f
@@ -1 +1 @@
--- old
+five
-- 
2.39.5

`;
    const b = a
      .replace('1111111111111111111111111111111111111111', '2222222222222222222222222222222222222222')
      .replace('[PATCH 1/3]', '[PATCH]')
      .replace('index 0719398..4c5701d 100644', 'index 07193980000000000000000000000000000000..4c5701d0000000000000000000000000000000 100644')
      .replace(' f | 2 +-\n', ' f | 2 ++--\n')
      .replace('2.39.5', '2.47.1');
    expect(normalisePatch(b)).toBe(normalisePatch(a));
    // What git am applies still counts: the diff, the message, the author.
    expect(normalisePatch(a.replace('+five', '+six'))).not.toBe(normalisePatch(a));
    expect(normalisePatch(a.replace('Body.', 'Other body.'))).not.toBe(normalisePatch(a));
    // A removed line reading "-- old" is content, not a signature.
    expect(normalisePatch(a)).toContain('--- old\n+five');
    expect(touchedPaths(Buffer.from(a), 1)).toEqual(['f']);
    expect(touchedPaths(Buffer.from('diff --git "a/caf\\303\\251" "b/caf\\303\\251"\n'), 1)).toEqual(['café']);
  });
});

describe('rule: patches', () => {
  it('applies format-patch and plain-diff patches; output is deterministic; re-exports keep the key; edits rebuild', async () => {
    const s = await setup();
    const first = await buildWithSummary(s.ws, [], s.env);
    expect(first.exitCode, first.stdout + first.stderr).toBe(0);
    expect(statuses(first.summary).built).toEqual(['consumer', 'nova', 'nova-patched']);
    expect(read(s, 'build/patched/app.py')).toBe(appPy((l) => (l[9] = 'value_10 = 1000')));
    expect(read(s, 'build/patched/feature.py')).toContain('downstream');
    expect(read(s, 'build/patched/README')).toBe('Upstream project\nCarried downstream by rackstack.\nSee app.py.\n');
    expect(fs.existsSync(path.join(s.ws, 'build/patched/.git'))).toBe(false);
    expect(read(s, 'build/src/app.py')).toBe(appPy()); // the upstream tree is left alone
    const patched = byId(first.summary, 'nova-patched');
    expect(patched.notes).toBeUndefined();

    // A clean build elsewhere (other cache, other checkout path) gives byte-identical outputs.
    const other = tempDir('kiln-patches-clean-');
    fs.cpSync(s.ws, other, { recursive: true, filter: (src) => !src.includes(`${path.sep}build`) && !src.endsWith('.kiln') });
    const clean = await buildWithSummary(other, [], { KILN_CACHE_DIR: path.join(other, '.cache') });
    expect(clean.exitCode, clean.stdout).toBe(0);
    expect(byId(clean.summary, 'nova-patched').status).toBe('built');
    expect(byId(clean.summary, 'nova-patched').outputDigest).toBe(patched.outputDigest);
    expect(byId(clean.summary, 'nova-patched').key).toBe(patched.key);

    // Re-export from a rebased branch: new commit ids, full index lines, another git version trailer.
    await git(s.down, ['rebase', '-q', '--force-rebase', 'HEAD~2'], { GIT_COMMITTER_DATE: '2026-11-05T08:00:00Z' });
    const before = fs.readFileSync(path.join(s.ws, 'patches/0001-Make-value-10-bigger.patch'), 'utf8');
    await git(s.down, ['format-patch', '-q', '--full-index', '--signature=2.99.1', '-o', path.join(s.ws, 'patches'), 'HEAD~2']);
    const after = fs.readFileSync(path.join(s.ws, 'patches/0001-Make-value-10-bigger.patch'), 'utf8');
    expect(after).not.toBe(before);
    const reexported = await buildWithSummary(s.ws, [], s.env);
    expect(statuses(reexported.summary).cached).toEqual(['consumer', 'nova', 'nova-patched']);
    expect(byId(reexported.summary, 'nova-patched').key).toBe(patched.key);

    // Editing what a patch does rebuilds it and what consumes it.
    fs.writeFileSync(path.join(s.ws, 'patches/0003-readme.diff'), README_DIFF.replace('rackstack', 'the ops team'));
    const edited = await buildWithSummary(s.ws, [], s.env);
    expect(statuses(edited.summary).built).toEqual(['consumer', 'nova-patched']);
    expect(read(s, 'build/patched/README')).toContain('Carried downstream by the ops team.');
  });

  it('re-applies the series with a 3-way merge when upstream moves around the patched lines', async () => {
    const s = await setup();
    expect((await buildWithSummary(s.ws, [], s.env)).exitCode).toBe(0);
    // Two lines below the patched one (inside the hunk's context, so a plain apply fails),
    // plus lines added at the top (so every offset moves).
    const upstreamApp = (l: string[]) => {
      l[11] = 'value_12 = 12  # tuned upstream';
      l.unshift('# header added upstream', '# another');
    };
    await upstreamCommit(s, { 'app.py': appPy(upstreamApp) }, 'Tune value 12');
    const r = await buildWithSummary(s.ws, [], s.env);
    expect(r.exitCode, r.stdout).toBe(0);
    expect(statuses(r.summary).built).toEqual(['consumer', 'nova', 'nova-patched']);
    expect(read(s, 'build/patched/app.py')).toBe(
      appPy((l) => {
        l[9] = 'value_10 = 1000';
        upstreamApp(l);
      }),
    );
    expect(r.stdout).toContain('applied 0001-Make-value-10-bigger.patch (3-way merge)');

  });

  it('fails on a conflict with a report naming the patch, the upstream commit, the file, the hunk and how to reproduce', async () => {
    const s = await setup();
    expect((await buildWithSummary(s.ws, [], s.env)).exitCode).toBe(0);
    const sha = await upstreamCommit(s, { 'app.py': appPy((l) => (l[9] = 'value_10 = 99')) }, 'Set value 10 to 99');
    const r = await buildWithSummary(s.ws, [], s.env);
    expect(r.exitCode).toBe(1);
    const node = byId(r.summary, 'nova-patched');
    expect(node.status).toBe('failed');
    expect(byId(r.summary, 'consumer').status).toBe('skipped');
    const report = node.error!;
    expect(report).toContain(`patch 0001-Make-value-10-bigger.patch (1 of 3 in patches/series) does not apply to upstream ${sha.slice(0, 10)} "Set value 10 to 99"`);
    expect(report).toContain('conflicting files: app.py');
    expect(report).toMatch(/app\.py: 1 conflict .*\n\s+at line 10:\n\s+<<<<<<< .*\n\s+value_10 = 99\n\s+=======\n\s+value_10 = 1000\n\s+>>>>>>> /);
    expect(report).toContain(`git clone ${s.upstream} upstream && cd upstream`);
    expect(report).toContain(`git checkout --detach ${sha}`);
    expect(report).toContain(`git am --3way ${path.join(s.ws, 'patches/0001-Make-value-10-bigger.patch')}`);
    expect(report).not.toMatch(/\n\s+at .*\.js:\d+/); // no stack trace
    expect(r.stdout).toContain('nova-patched | patch 0001-Make-value-10-bigger.patch'); // in the node log too
    // No half-patched tree is left behind.
    expect(fs.existsSync(path.join(s.ws, 'build/patched'))).toBe(false);
  });

  it('skips a patch merged upstream with a note naming the commit; the patched tree is identical, so dependents are cache hits', async () => {
    const s = await setup();
    const first = await buildWithSummary(s.ws, [], s.env);
    expect(first.exitCode).toBe(0);
    const digest = byId(first.summary, 'nova-patched').outputDigest;

    // Upstream takes patch 0002 as is (a new commit id, another committer), and nothing else.
    await git(s.upstream, ['am', '-q', path.join(s.ws, 'patches/0002-Add-feature-module.patch')], { GIT_COMMITTER_NAME: 'Core Reviewer' });
    const merged = await git(s.upstream, ['rev-parse', 'HEAD']);
    const r = await buildWithSummary(s.ws, [], s.env);
    expect(r.exitCode, r.stdout).toBe(0);
    const node = byId(r.summary, 'nova-patched');
    expect(node.notes).toEqual([`patch 0002-Add-feature-module.patch is already upstream in ${merged.slice(0, 10)} "Add feature module"`]);
    expect(statuses(r.summary)).toMatchObject({ built: ['nova', 'nova-patched'], cached: ['consumer'] });
    expect(node.outputDigest).toBe(digest);
    expect(r.stdout).toContain('skipped 0002-Add-feature-module.patch: already upstream');
    // The note is there on a no-op build too (it comes from resolve, before the key).
    const again = await buildWithSummary(s.ws, [], s.env);
    expect(statuses(again.summary).cached).toEqual(['consumer', 'nova', 'nova-patched']);
    expect(byId(again.summary, 'nova-patched').notes).toEqual(node.notes);

    // Upstream then edits the same lines again: the patch no longer reverse-applies, but its
    // patch-id is in upstream history, so it is still recognised (and not applied on top).
    await upstreamCommit(s, { 'feature.py': 'def feature():\n    return "upstream"\n' }, 'Reword feature');
    const later = await buildWithSummary(s.ws, [], s.env);
    expect(later.exitCode, later.stdout).toBe(0);
    expect(byId(later.summary, 'nova-patched').notes).toEqual(node.notes);
    expect(read(s, 'build/patched/feature.py')).toContain('"upstream"');
    expect(read(s, 'build/patched/app.py')).toContain('value_10 = 1000');
  });

  it('applies a patch upstream took and then reverted, with a note; the tree is the same as before', async () => {
    const s = await setup();
    const first = await buildWithSummary(s.ws, [], s.env);
    expect(first.exitCode).toBe(0);
    await git(s.upstream, ['am', '-q', path.join(s.ws, 'patches/0001-Make-value-10-bigger.patch')]);
    const taken = await git(s.upstream, ['rev-parse', 'HEAD']);
    await git(s.upstream, ['revert', '--no-edit', 'HEAD']);
    const r = await buildWithSummary(s.ws, [], s.env);
    expect(r.exitCode, r.stdout).toBe(0);
    // Its patch-id is in upstream history, but the change is not in the tree: applied again.
    expect(byId(r.summary, 'nova-patched').notes).toEqual([
      `patch 0001-Make-value-10-bigger.patch matches upstream ${taken.slice(0, 10)} "Make value 10 bigger" by patch-id but still applies cleanly (reverted upstream?); applying it`,
    ]);
    expect(byId(r.summary, 'nova-patched').outputDigest).toBe(byId(first.summary, 'nova-patched').outputDigest);
    expect(byId(r.summary, 'consumer').status).toBe('cached');
  });

  it('names a patch already in a tree without history by its clean reverse-apply; reports missing files', async () => {
    const root = tempDir('kiln-patches-plain-');
    const diff = README_DIFF;
    writeFiles(root, {
      'kiln.yaml': `nodes:
  vendor:
    rule: run
    inputs: [vendor/README]
    outputs: [tree]
    cmd: mkdir -p tree && cp vendor/README tree/
  patched:
    rule: patches
    deps: [vendor]
    series: series
    outputs: [out]
`,
      'vendor/README': 'Upstream project\nCarried downstream by rackstack.\nSee app.py.\n',
      series: 'readme.diff\n',
      'readme.diff': diff,
    });
    await git(root, ['init', '-q']);
    const env = { KILN_CACHE_DIR: path.join(root, '.cache') };
    const r = await buildWithSummary(root, [], env);
    expect(r.exitCode, r.stdout).toBe(0);
    expect(byId(r.summary, 'patched').notes).toEqual(['patch readme.diff is already applied upstream (reverse-applies cleanly)']);
    expect(fs.readFileSync(path.join(root, 'out/README'), 'utf8')).toBe('Upstream project\nCarried downstream by rackstack.\nSee app.py.\n');

    fs.writeFileSync(path.join(root, 'series'), '# ours\nreadme.diff\ngone.patch\n');
    const missing = await buildWithSummary(root, [], env);
    expect(missing.exitCode).toBe(1);
    expect(byId(missing.summary, 'patched').error).toBe("patch 'gone.patch' listed in series:3: 'gone.patch' not found");
    fs.writeFileSync(path.join(root, 'series'), 'kiln.yaml\n');
    const notPatch = await buildWithSummary(root, [], env);
    expect(byId(notPatch.summary, 'patched').error).toBe("patch 'kiln.yaml' listed in series:1 contains no diff: is 'kiln.yaml' a patch?");
    fs.rmSync(path.join(root, 'series'));
    const noSeries = await buildWithSummary(root, [], env);
    expect(byId(noSeries.summary, 'patched').error).toBe("series file 'series' not found");
  });
});
