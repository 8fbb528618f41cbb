// The workspace memo (.kiln/workspace.json) must give back exactly the
// workspace the build files load to: a field lost or changed on the way
// would change node keys (a stale hit or a needless rebuild) or point a
// later error at the wrong place. Real files in temp dirs, the real loaders.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadWorkspace } from '../engine/buildfile/load.js';
import { nodeIndex } from '../engine/graph/node-index.js';
import { fieldPosition, positionIn } from '../engine/buildfile/near-pos.js';
import { loadWorkspaceCached } from '../engine/buildfile/snapshot.js';
import type { Workspace } from '../engine/buildfile/types.js';
import { loadSpec } from '../engine/workspace-spec.js';
import { STATE_DIR } from '../engine/state/state-dir.js';
import type { Result } from '../engine/diagnostic.js';
import { buildWithSummary, tempDir, writeFiles } from './kiln.js';

const value = (r: Result<Workspace>): Workspace => {
  if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
  return r.value;
};

/** A memo is used once its files are old enough to trust their stats: backdated, so the second load reads it. */
function backdate(dir: string, files: string[]): void {
  const old = new Date(Date.now() - 60_000);
  for (const f of files) fs.utimesSync(path.join(dir, f), old, old);
}

/** Loads twice through the memo: the first load writes it, the second reads it. */
async function throughMemo(dir: string, load: () => Promise<Result<Workspace>>): Promise<{ fresh: Workspace; memo: Workspace }> {
  const fresh = value(await load());
  const memoFile = path.join(dir, STATE_DIR, 'workspace.json');
  expect(fs.existsSync(memoFile), 'the first load writes the memo').toBe(true);
  const before = fs.readFileSync(memoFile, 'utf8');
  const memo = value(await load());
  // The memo was read, not remade: reading it leaves it (or only stamps it).
  const kept = (text: string) => {
    const { workspace, nodes, posFiles } = JSON.parse(text);
    return { workspace, nodes, posFiles };
  };
  expect(kept(fs.readFileSync(memoFile, 'utf8'))).toEqual(kept(before));
  return { fresh, memo };
}

const longLine = `[${Array.from({ length: 9000 }, (_, i) => `"f${i}.txt"`).join(', ')}]`;

describe('the workspace memo', () => {
  it('gives back every field of every node of a kiln.yaml, positions included', async () => {
    const dir = tempDir('kiln-memo-');
    writeFiles(dir, {
      'kiln.yaml': [
        'toolchains:',
        '  sh: sh --version',
        'include: [sub/kiln.yaml]',
        'history: {keepRuns: 7}',
        'nodes:',
        '  gen:',
        '    rule: run',
        '    description: makes things',
        '    inputs: ["src/**", {glob: "opt/*", required: false}, "!src/skip"]',
        '    outputs: [out/a.txt, out/b]',
        '    env: [A, B_C]',
        '    secretEnv: [TOKEN]',
        '    toolchain: [sh]',
        '    cmd: mkdir -p out && echo $A > out/a.txt',
        '  traced:',
        '    rule: run',
        '    deps: [gen, sub.leaf]',
        '    uses: [gen.version]',
        '    inputs: traced',
        '    cmd: cat out/a.txt',
        '  far:',
        '    rule: run',
        '    dir: far',
        // A position too far right to be a number near the node's stays as it is.
        `    deps: [gen,${' '.repeat(70_000)}sub.leaf]`,
        `    outputs: ${longLine}`,
        '    cmd: "true"',
      ].join('\n'),
      'src/a.c': 'int a;\n',
      'far/.keep': '',
      'sub/kiln.yaml': ['nodes:', '  sub.leaf:', '    rule: run', '    deps: [gen]', '    uses: []', '    cmd: echo leaf'].join('\n'),
    });
    backdate(dir, ['kiln.yaml', 'sub/kiln.yaml']);
    const rootFile = path.join(dir, 'kiln.yaml');
    const { fresh, memo } = await throughMemo(dir, () => loadWorkspaceCached(rootFile, STATE_DIR));
    expect(memo).toEqual(fresh);
    expect(memo).toEqual(value(loadWorkspace(rootFile)));
    // The index a fresh load adopts from its checks answers as the one built for a memo's workspace.
    const [adopted, built] = [nodeIndex(fresh), nodeIndex(memo)];
    expect(adopted, "adopted, not built again").not.toBeInstanceOf(Map);
    expect([...adopted]).toEqual([...built]);
    expect([adopted.size, [...adopted.keys()], [...adopted.values()], [...adopted.entries()]]).toEqual([built.size, [...built.keys()], [...built.values()], [...built.entries()]]);
    const visited: string[] = [];
    adopted.forEach((n, id, map) => visited.push(`${id}=${n.id}:${map === adopted}`));
    expect(visited).toEqual(memo.nodes.map((n) => `${n.id}=${n.id}:true`));
    expect([adopted.get('far')?.dir, adopted.has('far'), adopted.get('nope'), adopted.has('nope')]).toEqual(['far', true, undefined, false]);
    // What the comparison covers: a node of every list, and a column past what a near position holds.
    const far = memo.nodes.find((n) => n.id === 'far')!;
    expect(far.outputs).toHaveLength(9000);
    expect(fieldPosition(far, 'cmd')).toEqual({ file: 'kiln.yaml', line: 26, column: 5 });
    expect(far.deps.map((d) => positionIn(far.pos, d.pos))).toEqual([
      { file: 'kiln.yaml', line: 24, column: 12 },
      { file: 'kiln.yaml', line: 24, column: 70_016 },
    ]);
    expect(typeof far.deps[1]!.pos, 'kept whole').toBe('object');
    const gen = memo.nodes.find((n) => n.id === 'gen')!;
    expect(gen.inputs.map((i) => [i.glob, i.required, positionIn(gen.pos, i.pos).line])).toEqual([
      ['src/**', true, 9],
      ['opt/*', false, 9],
      ['!src/skip', false, 9],
    ]);
    expect(memo.nodes.find((n) => n.id === 'sub.leaf')!.pos).toEqual({ file: 'sub/kiln.yaml', line: 2, column: 3 });
    const traced = memo.nodes.find((n) => n.id === 'traced')!;
    expect(traced.uses.map((u) => [u.dep, u.name, positionIn(traced.pos, u.pos)])).toEqual([['gen', 'version', { file: 'kiln.yaml', line: 18, column: 12 }]]);
  });

  it('gives back a workspace of any size: none, and several thousand nodes written a chunk at a time', async () => {
    const empty = tempDir('kiln-memo-empty-');
    writeFiles(empty, { 'kiln.yaml': 'nodes: {}\n' });
    const none = await throughMemo(empty, () => loadWorkspaceCached(path.join(empty, 'kiln.yaml'), STATE_DIR));
    expect(none.memo.nodes).toEqual([]);
    const dir = tempDir('kiln-memo-many-');
    const lines = ['nodes:'];
    for (let i = 0; i < 4500; i++) lines.push(`  n${i}:`, '    rule: run', ...(i > 0 ? [`    deps: [n${i - 1}]`] : []), `    cmd: echo ${i}`);
    writeFiles(dir, { 'kiln.yaml': `${lines.join('\n')}\n` });
    const rootFile = path.join(dir, 'kiln.yaml');
    const { fresh, memo } = await throughMemo(dir, () => loadWorkspaceCached(rootFile, STATE_DIR));
    expect(memo.nodes).toHaveLength(4500);
    expect(memo).toEqual(fresh);
    expect(memo.nodes[4499]).toMatchObject({ id: 'n4499', attrs: { cmd: 'echo 4499' }, deps: [{ id: 'n4498' }] });
  });

  it('gives back an imported JS workspace: write scans, pass-through env, uncached and lenient nodes', async () => {
    const dir = tempDir('kiln-memo-npm-');
    const pkg = (json: object) => `${JSON.stringify(json, null, 2)}\n`;
    writeFiles(dir, {
      'package.json': pkg({ name: 'root', private: true, workspaces: ['packages/*'] }),
      'turbo.json': pkg({
        tasks: {
          build: { dependsOn: ['^build'], outputs: ['dist/**'], env: ['MODE'], passThroughEnv: ['HOME'] },
          dev: { cache: false },
        },
      }),
      'packages/a/package.json': pkg({ name: 'a', scripts: { build: 'echo a', dev: 'echo dev' } }),
      'packages/b/package.json': pkg({ name: 'b', dependencies: { a: '*' }, scripts: { build: 'echo b' } }),
    });
    backdate(dir, ['package.json', 'turbo.json', 'packages/a/package.json', 'packages/b/package.json']);
    const spec = { rootFile: path.join(dir, 'package.json'), npm: { scripts: 'build,dev' } };
    const { fresh, memo } = await throughMemo(dir, () => loadSpec(spec));
    expect(memo).toEqual(fresh);
    const build = memo.nodes.find((n) => n.id === 'b#build')!;
    expect(build.deps.map((d) => d.id)).toEqual(['a#build']);
    expect(build.writeScan).toBeDefined();
    expect(build.passEnv).toEqual(['HOME']);
    expect(build.lenientOutputs).toBe(true);
    expect(memo.nodes.find((n) => n.id === 'a#dev')!.noCache).toBe(true);
  });

  it('an edit that changes what a node runs reaches the output, memo or not', async () => {
    const dir = tempDir('kiln-memo-edit-');
    const file = (msg: string) => ['nodes:', '  a:', '    rule: run', '    env: [GREETING]', '    outputs: [a.txt]', `    cmd: echo "$GREETING ${msg}" > a.txt`, '  b:', '    rule: run', '    deps: [a]', '    outputs: [b.txt]', '    cmd: cat a.txt a.txt > b.txt'].join('\n');
    writeFiles(dir, { 'kiln.yaml': file('one') });
    backdate(dir, ['kiln.yaml']);
    const cacheDir = path.join(tempDir('kiln-memo-cache-'), 'cache');
    const env = { GREETING: 'hi' };
    expect((await buildWithSummary(dir, ['--cache-dir', cacheDir], env)).exitCode).toBe(0);
    // The second build reads the memo; the env var's value still enters a's key.
    const again = await buildWithSummary(dir, ['--cache-dir', cacheDir], { GREETING: 'bye' });
    expect(again.exitCode).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'b.txt'), 'utf8')).toBe('bye one\nbye one\n');
    writeFiles(dir, { 'kiln.yaml': file('two') });
    const edited = await buildWithSummary(dir, ['--cache-dir', cacheDir], { GREETING: 'bye' });
    expect(edited.exitCode).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'b.txt'), 'utf8')).toBe('bye two\nbye two\n');
  });

  it('stamps the build files it read once they are older than the read, and an edit after that is read', async () => {
    const dir = tempDir('kiln-memo-stamp-');
    writeFiles(dir, { 'kiln.yaml': 'nodes:\n  a: {rule: run, cmd: echo one}\n' });
    backdate(dir, ['kiln.yaml']);
    const rootFile = path.join(dir, 'kiln.yaml');
    const memoFile = path.join(dir, STATE_DIR, 'workspace.json');
    // utimes set the ctime to now: 20 ms later it is still within the racy margin of the read, and not trusted.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(value(await loadWorkspaceCached(rootFile, STATE_DIR)).nodes[0]!.attrs).toEqual({ cmd: 'echo one' });
    expect(JSON.parse(fs.readFileSync(memoFile, 'utf8')).stamp, 'a file changed as it was read is not stamped').toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 150));
    // Past the margin: the memo, checked by hashing, is stamped.
    expect(value(await loadWorkspaceCached(rootFile, STATE_DIR)).nodes[0]!.attrs).toEqual({ cmd: 'echo one' });
    expect(JSON.parse(fs.readFileSync(memoFile, 'utf8')).stamp).toMatch(/^kiln\.yaml:/);
    fs.writeFileSync(rootFile, 'nodes:\n  a: {rule: run, cmd: echo two}\n');
    expect(value(await loadWorkspaceCached(rootFile, STATE_DIR)).nodes[0]!.attrs).toEqual({ cmd: 'echo two' });
    // A cold load of a file older than the read stamps it at once.
    backdate(dir, ['kiln.yaml']);
    await new Promise((resolve) => setTimeout(resolve, 150));
    fs.rmSync(memoFile);
    expect(value(await loadWorkspaceCached(rootFile, STATE_DIR)).nodes[0]!.attrs).toEqual({ cmd: 'echo two' });
    expect(JSON.parse(fs.readFileSync(memoFile, 'utf8')).stamp).toMatch(/^kiln\.yaml:/);
  });
});
