// rule: bundle — the release payload: package outputs plus config files in
// one deterministic archive with a manifest naming versions and upstream commits.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { buildWithSummary, statuses, tempDir, writeFiles } from './kiln.js';

const digest = (file: string) => {
  const bytes = fs.readFileSync(file);
  return { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
};

/** A payload of two packages: nova from a real git repository (so it has a commit), client from a plain tree (none). */
function payloadYaml(novaUrl: string, bundleInputs = 'inputs: ["etc/*.conf"]'): string {
  return `
nodes:
  nova:
    rule: git
    url: ${novaUrl}
    ref: master
    outputs: [build/nova/src]
  nova-pkg:
    rule: package
    deps: [nova]
    uses: [nova.version]
    name: nova
    version: "\${nova.version}"
    outputs: [build/nova/dist]
  nova-test:
    rule: test
    deps: [nova]
    cmd: test -f nova/__init__.py
  client-src:
    rule: run
    inputs: ["client/**"]
    outputs: [build/client/src]
    cmd: mkdir -p build/client && rm -rf build/client/src && cp -r client build/client/src
  client-pkg:
    rule: package
    deps: [client-src]
    name: client
    version: "3.0"
    outputs: [build/client/dist]
  payload:
    rule: bundle
    deps: [nova-pkg, client-pkg, nova-test]
    name: payload
    files: ["etc/*.conf"]
    ${bundleInputs}
    outputs: [build/payload]
`;
}

function workspace(novaUrl: string): string {
  const ws = tempDir('kiln-rule-bundle-');
  writeFiles(ws, { 'kiln.yaml': payloadYaml(novaUrl), 'client/client/__init__.py': 'VERSION = "3.0"\n', 'etc/payload.conf': '[DEFAULT]\nregion = one\n' });
  return ws;
}

describe('rule: bundle', () => {
  it('bundles packages and config files with a manifest, deterministically', async () => {
    const nova = tempDir('kiln-upstream-nova-');
    writeFiles(nova, { 'nova/__init__.py': '', 'setup.cfg': '[metadata]\nname = nova\n' });
    const init = 'git init -q -b master && git add . && git -c user.name=dev -c user.email=dev@example.org commit -qm init && git rev-parse HEAD';
    const commit = (await execa('sh', ['-c', init], { cwd: nova })).stdout;

    const ws = workspace(nova);
    const env = { KILN_CACHE_DIR: tempDir('kiln-rule-bundle-cache-') };
    const r = await buildWithSummary(ws, [], env);
    expect(r.exitCode, r.stdout).toBe(0);

    const out = path.join(ws, 'build/payload');
    expect(fs.readdirSync(out).sort()).toEqual(['manifest.json', 'payload.tar.gz']);
    const [novaFile] = fs.readdirSync(path.join(ws, 'build/nova/dist'));
    const novaVersion = /^nova-(.*)\.tar\.gz$/.exec(novaFile!)![1]!;
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    expect(manifest).toEqual({
      version: 1,
      name: 'payload',
      members: [
        { name: 'client', version: '3.0', sourceCommit: null, file: 'client-3.0.tar.gz', ...digest(path.join(ws, 'build/client/dist/client-3.0.tar.gz')) },
        { name: 'nova', version: novaVersion, sourceCommit: commit, file: novaFile, ...digest(path.join(ws, 'build/nova/dist', novaFile!)) },
      ],
      files: [{ path: 'etc/payload.conf', ...digest(path.join(ws, 'etc/payload.conf')) }],
    });

    const archive = path.join(out, 'payload.tar.gz');
    const names = (await execa('tar', ['-tzf', archive])).stdout.split('\n');
    expect(names).toEqual([
      'payload/', 'payload/etc/', 'payload/etc/payload.conf', 'payload/manifest.json',
      'payload/packages/', 'payload/packages/client-3.0.tar.gz', `payload/packages/${novaFile}`,
    ]);
    const inside = await execa('tar', ['-xOzf', archive, 'payload/manifest.json'], { stripFinalNewline: false });
    expect(inside.stdout).toBe(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));

    // A clean build elsewhere, from an empty cache: the same bytes.
    const elsewhere = workspace(nova);
    const again = await buildWithSummary(elsewhere, [], { KILN_CACHE_DIR: tempDir('kiln-rule-bundle-cache-') });
    expect(again.exitCode, again.stdout).toBe(0);
    expect(digest(path.join(elsewhere, 'build/payload/payload.tar.gz'))).toEqual(digest(archive));

    // A config file is an input: changing it rebuilds the payload alone.
    fs.writeFileSync(path.join(ws, 'etc/payload.conf'), '[DEFAULT]\nregion = two\n');
    const edited = await buildWithSummary(ws, [], env);
    expect(statuses(edited.summary).built).toEqual(['payload']);
    expect(digest(archive)).not.toEqual(digest(path.join(elsewhere, 'build/payload/payload.tar.gz')));

    // ... so one that is not an input is a build-file mistake.
    writeFiles(ws, { 'kiln.yaml': payloadYaml(nova, 'inputs: ["etc/other.conf"]'), 'etc/other.conf': '' });
    const bad = await buildWithSummary(ws, [], env);
    expect(bad.exitCode).toBe(2);
    const error = bad.summary.nodes.find((n) => n.id === 'payload')!.error;
    expect(error).toBe(
      `kiln.yaml:34:5: files: 'etc/payload.conf' is not an input of node 'payload'\n  hint: add it to inputs (e.g. inputs: ["etc/*.conf"]): only inputs enter the key`,
    );
  });
});
