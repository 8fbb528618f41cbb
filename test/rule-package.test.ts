// rule: package — deterministic NAME-VERSION.tar.gz archives of a tree, the
// version from a dependency's metadata (uses:), or a packaging command.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import type { RunSummary } from '../engine/pipeline/summary.js';
import { buildWithSummary, tempDir, writeFiles } from './kiln.js';

const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const node = (summary: RunSummary, id: string) => summary.nodes.find((n) => n.id === id)!;

/** `tar -tv` lines of an archive, in UTC. */
async function listing(archive: string): Promise<string[]> {
  const r = await execa('tar', ['--numeric-owner', '-tvzf', archive], { env: { TZ: 'UTC', LC_ALL: 'C' } });
  return r.stdout.split('\n');
}

/** A real upstream git repository with one commit, for the git rule's metadata (version, epoch, commit). */
async function gitUpstream(files: Record<string, string>): Promise<{ url: string; commit: string }> {
  const url = tempDir('kiln-upstream-');
  writeFiles(url, files);
  const when = '2024-05-01T12:00:00Z';
  const env = { GIT_AUTHOR_DATE: when, GIT_COMMITTER_DATE: when, GIT_AUTHOR_NAME: 'dev', GIT_COMMITTER_NAME: 'dev', GIT_AUTHOR_EMAIL: 'dev@example.org', GIT_COMMITTER_EMAIL: 'dev@example.org' };
  await execa('sh', ['-c', 'git init -q -b master && git add . && git commit -qm "Initial import"'], { cwd: url, env });
  return { url, commit: (await execa('git', ['rev-parse', 'HEAD'], { cwd: url })).stdout };
}

const TREE_NODE = `
  src:
    rule: run
    inputs: ["upstream/**"]
    outputs: [tree]
    cmd: rm -rf tree && cp -a upstream tree
`;

/** One workspace with the same tree content but different file times, permission bits and creation order. */
function treeWorkspace(variant: 0 | 1, extra = ''): string {
  const ws = tempDir(`kiln-rule-package-${variant}-`);
  const files: [string, string][] = [
    ['upstream/setup.cfg', '[metadata]\nname = demo\n'],
    ['upstream/demo/__init__.py', ''],
    ['upstream/demo/api.py', 'def f():\n    return 1\n'],
    ['upstream/tools/run-tests.sh', '#!/bin/sh\nexec python3 -m unittest\n'],
    [`upstream/${'deep/'.repeat(22)}long-name-beyond-the-ustar-name-field.txt`, 'pax\n'],
  ];
  writeFiles(ws, Object.fromEntries(variant === 0 ? files : [...files].reverse()));
  writeFiles(ws, {
    'kiln.yaml': `
nodes:${TREE_NODE}
  pkg:
    rule: package
    deps: [src]
    name: demo
    version: "1.0.0"
    mtime: 1700000000
    outputs: [dist]
${extra}`,
  });
  fs.mkdirSync(path.join(ws, 'upstream/empty-dir'));
  fs.symlinkSync('demo/api.py', path.join(ws, 'upstream/api-link.py'));
  fs.chmodSync(path.join(ws, 'upstream/tools/run-tests.sh'), variant === 0 ? 0o755 : 0o700);
  fs.chmodSync(path.join(ws, 'upstream/setup.cfg'), variant === 0 ? 0o644 : 0o664);
  const when = variant === 0 ? new Date('2020-01-01') : new Date('2025-06-30');
  fs.utimesSync(path.join(ws, 'upstream/demo/api.py'), when, when);
  return ws;
}

describe('rule: package', () => {
  it('writes byte-identical archives from clean builds in different places, with normalised entries', async () => {
    const archives: string[] = [];
    for (const variant of [0, 1] as const) {
      const ws = treeWorkspace(variant);
      const r = await buildWithSummary(ws, [], { KILN_CACHE_DIR: tempDir('kiln-rule-package-cache-') });
      expect(r.exitCode, r.stdout).toBe(0);
      archives.push(path.join(ws, 'dist/demo-1.0.0.tar.gz'));
    }
    expect(sha256(archives[0]!)).toBe(sha256(archives[1]!));

    // gzip header: no mtime (bytes 4-7), no file name (FLG bit 3).
    const gz = fs.readFileSync(archives[0]!);
    expect(gz.readUInt32LE(4)).toBe(0);
    expect(gz[3]! & 0x08).toBe(0);

    const lines = await listing(archives[0]!);
    const long = `demo-1.0.0/${'deep/'.repeat(22)}long-name-beyond-the-ustar-name-field.txt`;
    const names = lines.map((l) => l.split(/\s+/)[5]!);
    expect(names).toEqual([...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    expect(names).toContain(long);
    for (const l of lines) expect(l).toMatch(/^(-rw-r--r--|-rwxr-xr-x|drwxr-xr-x|lrwxrwxrwx) 0\/0 +\d+ 2023-11-14 22:13 demo-1\.0\.0\//);
    expect(lines).toContain('-rwxr-xr-x 0/0              35 2023-11-14 22:13 demo-1.0.0/tools/run-tests.sh');
    expect(lines).toContain('-rw-r--r-- 0/0              23 2023-11-14 22:13 demo-1.0.0/setup.cfg');
    expect(lines).toContain('drwxr-xr-x 0/0               0 2023-11-14 22:13 demo-1.0.0/empty-dir/');
    expect(lines).toContain('lrwxrwxrwx 0/0               0 2023-11-14 22:13 demo-1.0.0/api-link.py -> demo/api.py');
    // Owner names are empty, not root's or the builder's.
    const names0 = await execa('tar', ['-tvzf', archives[0]!], { env: { TZ: 'UTC' } });
    expect(names0.stdout).not.toMatch(/root|\b\d{4,}\/\d{4,}\b/);
  });

  it('takes its version and mtime from the metadata it uses, and publishes name, version, file and commit', async () => {
    const upstream = await gitUpstream({ 'nova/__init__.py': '', 'setup.cfg': '[metadata]\nname = nova\n' });
    const ws = tempDir('kiln-rule-package-uses-');
    const yaml = (uses: string) => `
nodes:
  nova:
    rule: git
    url: ${upstream.url}
    ref: master
    outputs: [src]
  nova-pkg:
    rule: package
    deps: [nova]
    ${uses}
    name: nova
    version: "\${nova.version}"
    mtime: "\${nova.epoch}"
    outputs: [dist]
  show:
    rule: run
    deps: [nova-pkg]
    uses: [nova-pkg.name, nova-pkg.version, nova-pkg.file, nova-pkg.commit]
    outputs: [meta.txt]
    cmd: echo "$KILN_NOVA_PKG_NAME $KILN_NOVA_PKG_VERSION $KILN_NOVA_PKG_FILE $KILN_NOVA_PKG_COMMIT" > meta.txt
`;
    writeFiles(ws, { 'kiln.yaml': yaml('uses: [nova.version, nova.epoch]') });
    const env = { KILN_CACHE_DIR: tempDir('kiln-rule-package-cache-') };
    const r = await buildWithSummary(ws, [], env);
    expect(r.exitCode, r.stdout).toBe(0);
    const [name, version, file, commit] = fs.readFileSync(path.join(ws, 'meta.txt'), 'utf8').trim().split(' ');
    expect(name).toBe('nova');
    expect(version).toMatch(/^0\.0\.0\.dev1\+g[0-9a-f]{7}$/);
    expect(file).toBe(`nova-${version}.tar.gz`);
    expect(commit).toBe(upstream.commit);
    const lines = await listing(path.join(ws, 'dist', file!));
    expect(lines[0]).toBe(`drwxr-xr-x 0/0               0 2024-05-01 12:00 nova-${version}/`);

    // A reference that is not declared in uses is a build-file mistake, reported where it is written.
    writeFiles(ws, { 'kiln.yaml': yaml('uses: [nova.epoch]') });
    const bad = await buildWithSummary(ws, [], env);
    expect(bad.exitCode).toBe(2);
    expect(node(bad.summary, 'nova-pkg').error).toBe(
      "kiln.yaml:13:5: version references ${nova.version}, which node 'nova-pkg' does not declare in uses\n  hint: add uses: [nova.version]",
    );
  });

  it('runs a packaging command in a scratch copy and collects the artifacts it creates', async () => {
    // A tiny `setup.py sdist`: honours SOURCE_DATE_EPOCH and takes the version from PBR_VERSION, as pbr does.
    const setupPy = `import gzip, io, os, sys, tarfile
assert sys.argv[1:] == ["sdist"], sys.argv
version = os.environ["PBR_VERSION"]
epoch = int(os.environ["SOURCE_DATE_EPOCH"])
base = f"demo-{version}"
os.makedirs("dist", exist_ok=True)
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
    for rel in sorted(["setup.py", "demo/__init__.py"]):
        info = tar.gettarinfo(rel, arcname=f"{base}/{rel}")
        info.mtime, info.uid, info.gid, info.uname, info.gname, info.mode = epoch, 0, 0, "", "", 0o644
        with open(rel, "rb") as f:
            tar.addfile(info, f)
with open(f"dist/{base}.tar.gz", "wb") as out:
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, filename="") as gz:
        gz.write(buf.getvalue())
with open(f"dist/{base}.log", "w") as log:
    log.write("not an artifact")
`;
    const digests: string[] = [];
    for (const i of [0, 1]) {
      const ws = tempDir(`kiln-rule-package-cmd-${i}-`);
      writeFiles(ws, {
        'kiln.yaml': `
nodes:${TREE_NODE}
  sdist:
    rule: package
    deps: [src]
    name: demo
    version: "2.1.0"
    env: [SOURCE_DATE_EPOCH]
    command: python3 setup.py sdist
    artifacts: ["dist/*.tar.gz"]
    outputs: [dist]
`,
        'upstream/setup.py': setupPy,
        'upstream/demo/__init__.py': '',
      });
      const r = await buildWithSummary(ws, [], { KILN_CACHE_DIR: tempDir('kiln-rule-package-cache-'), SOURCE_DATE_EPOCH: '1714564800' });
      expect(r.exitCode, r.stdout).toBe(0);
      expect(fs.readdirSync(path.join(ws, 'dist'))).toEqual(['demo-2.1.0.tar.gz']);
      // It ran in a scratch copy: the tree it was given (a cached artifact) has no dist/, and the copy is gone.
      expect(fs.existsSync(path.join(ws, 'tree/dist'))).toBe(false);
      expect(fs.existsSync(path.join(ws, '.kiln/scratch/sdist'))).toBe(false);
      const lines = await listing(path.join(ws, 'dist/demo-2.1.0.tar.gz'));
      expect(lines).toContain('-rw-r--r-- 0/0               0 2024-05-01 12:00 demo-2.1.0/demo/__init__.py');
      digests.push(sha256(path.join(ws, 'dist/demo-2.1.0.tar.gz')));
    }
    expect(digests[0]).toBe(digests[1]);
  });
});
