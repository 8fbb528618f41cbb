// kiln chase and kiln bisect on the rackstack example: real upstream git
// repos made by examples/rackstack/setup.sh and moved by advance.sh.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { kiln, tempDir } from './kiln.js';
import { followUpstream, upstreamRepo } from './upstream.js';

const EXAMPLE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../examples/rackstack');

async function playground(): Promise<{ dir: string; ws: string; env: Record<string, string> }> {
  const dir = tempDir('kiln-rackstack-');
  await execa('bash', [path.join(EXAMPLE, 'setup.sh'), dir]);
  return { dir, ws: path.join(dir, 'workspace'), env: { KILN_CACHE_DIR: path.join(dir, 'cache') } };
}

/** The block of the final chase table for the commit with this subject: its row and its detail lines. */
function rowFor(stdout: string, subject: string): string {
  const table = stdout.slice(stdout.lastIndexOf('project  '));
  const blocks = table.split(/\n(?! {4})/);
  const block = blocks.find((b) => b.split('\n')[0]!.endsWith(subject));
  expect(block, `no row for "${subject}" in:\n${table}`).toBeDefined();
  return block!;
}

describe('kiln chase', () => {
  it('builds every new upstream commit, records it, and does nothing when nothing is new', async () => {
    const { dir, ws, env } = await playground();
    const early = await kiln(ws, ['build', '--last-good'], env);
    expect(early.exitCode).toBe(2);
    expect(early.stderr).toContain('--last-good: kiln chase has built no project here yet');
    const first = await kiln(ws, ['chase'], env);
    expect(first.exitCode, first.stdout + first.stderr).toBe(0);
    expect(first.stdout).toContain('kiln chase: 3 new upstream commits to build');
    // The cold build is a baseline of its own, not credited to the first project's first commit.
    expect(first.stdout).toMatch(/^baseline \(utils [0-9a-f]{10}, clientlib [0-9a-f]{10}, compute [0-9a-f]{10}\): 12 built, 0 cached, 0 failed$/m);
    expect(first.stdout).toMatch(/^utils [0-9a-f]{10} ok: 0 built, 12 cached, 0 failed {2}"Initial import of utils"$/m);
    expect(fs.readdirSync(path.join(ws, 'build/payload')).length).toBeGreaterThan(0);

    const again = await kiln(ws, ['chase'], env);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toBe('kiln chase: up to date: nothing new upstream for utils, clientlib, compute');

    await execa('bash', [path.join(EXAMPLE, 'advance.sh'), dir]);
    const chased = await kiln(ws, ['chase'], env);
    expect(chased.stdout).toContain('kiln chase: 10 new upstream commits to build');
    expect(chased.exitCode).toBe(1); // one commit breaks an internal patch

    // A utils-only commit rebuilds exactly the utils chain and the payload.
    expect(rowFor(chased.stdout, 'Add title()')).toMatch(/ok .*\n {4}rebuilt: utils, utils-test, utils-pkg, payload$/m);
    // The tests are traced (inputs: traced): a README commit changes the tree, not what compute's tests read.
    expect(rowFor(chased.stdout, 'Document the service')).toMatch(/ok .*\n {4}rebuilt: compute, compute-patched, compute-pkg, payload$/m);
    // Upstream merged the quota patch: skipped with a note, the patched tree is
    // identical, so the tests and package of compute are cache hits.
    const quota = rowFor(chased.stdout, 'Raise the default quota to 20');
    expect(quota).toMatch(/0002-Raise-the-default-quota-to-20.patch is already upstream in [0-9a-f]{7}/);
    expect(quota).not.toMatch(/rebuilt: .*compute-test/);
    // Upstream rewrote the lines the audit patch touches: the patch conflicts.
    const conflict = rowFor(chased.stdout, 'Clearer boot message');
    expect(conflict).toMatch(/FAILED/);
    expect(conflict).toMatch(/compute-patched: .*0001-Add-audit-logging-to-boot.patch/);

    // A plain build after that chase fails on compute's head; it says which commit and that --last-good builds
    // the last good one (DLRN's "current").
    const plain = await kiln(ws, ['build'], env);
    expect(plain.exitCode).toBe(1);
    const hint = /kiln: hint: compute's newest upstream commit ([0-9a-f]{10}) \("Clearer boot message"\) failed in kiln chase; kiln build --last-good builds every chased project at its last good commit \(compute at ([0-9a-f]{10})\)/.exec(plain.stderr);
    expect(hint, plain.stderr).not.toBeNull();
    const good = await kiln(ws, ['build', '--last-good'], env);
    expect(good.exitCode, good.stdout + good.stderr).toBe(0);
    expect(good.stderr).toContain(`kiln: --last-good: compute at ${hint![2]} (its newest chased commit ${hint![1]} failed)`);
    // The payload holds compute packaged from the last good commit, not from the head.
    const manifest = JSON.parse(fs.readFileSync(path.join(ws, 'build/payload/manifest.json'), 'utf8')) as { members: { name: string; sourceCommit: string }[] };
    expect(manifest.members.find((m) => m.name === 'compute')!.sourceCommit.slice(0, 10)).toBe(hint![2]);

    const idle = await kiln(ws, ['chase'], env);
    expect(idle.stdout).toBe('kiln chase: up to date: nothing new upstream for utils, clientlib, compute');
  });
});

describe('kiln bisect', () => {
  it('finds the first upstream commit at which a test fails, in a 20-commit history', async () => {
    const root = tempDir('kiln-bisect-');
    const upstream = await upstreamRepo(path.join(root, 'upstream'));
    const shas: string[] = [];
    for (let i = 1; i <= 20; i++) {
      // From commit 13 on, the value the test checks is wrong.
      shas.push(await upstream.commit({ 'value.txt': i >= 13 ? 'broken\n' : 'fine\n', 'counter.txt': `${i}\n` }, `Change ${i}`));
    }
    const ws = path.join(root, 'ws');
    followUpstream(ws, upstream, 'grep -q fine value.txt || { echo "value.txt is $(cat value.txt)"; exit 1; }');
    const env = { KILN_CACHE_DIR: path.join(root, 'cache') };
    const r = await kiln(ws, ['bisect', 'check', '--good', shas[0]!, '--bad', shas[19]!], env);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`first bad commit: ${shas[12]} "Change 13"`);
    expect(r.stdout).toContain('value.txt is broken');
    const probes = r.stdout.split('\n').filter((l) => l.startsWith('kiln bisect: '));
    expect(probes.length).toBeLessThanOrEqual(6); // log2(19) + the check of --bad
    // A second bisect over the same range is served from the cache.
    const again = await kiln(ws, ['bisect', 'check', '--good', shas[0]!, '--bad', shas[19]!], env);
    expect(again.stdout).toContain(`first bad commit: ${shas[12]} "Change 13"`);
  });
});
