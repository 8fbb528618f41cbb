// `inputs: traced`: a node keyed on what its commands were seen to read,
// look at, list and miss (strace), not on declared globs. Issue 18's
// correctness: edits to files it never read keep it cached, edits to what
// it read (and a file appearing where it looked for one) rerun it, and the
// output bytes downstream are always those of a build from scratch.
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { loadWorkspace } from '../engine/buildfile/load.js';
import { formatDiagnostic } from '../engine/diagnostic.js';
import { buildWithSummary, KILN_MAIN, statuses, tempDir, writeFiles } from './kiln.js';
import { startKilnServer } from './servers/start.js';
import { followUpstream, upstreamRepo } from './upstream.js';

const runs = (counter: string) => (fs.existsSync(counter) ? fs.readFileSync(counter, 'utf8').split('\n').filter(Boolean).length : 0);

function workspace(): { ws: string; env: Record<string, string>; counter: string } {
  const ws = tempDir('kiln-traced-');
  const counter = path.join(tempDir('kiln-traced-count-'), 'runs');
  writeFiles(ws, {
    'kiln.yaml': `nodes:
  use:
    rule: run
    inputs: traced
    env: [COUNTER]
    outputs: [out.txt]
    cmd: 'echo run >> "$COUNTER"; cat lib/a.txt > out.txt; if [ -f lib/extra.txt ]; then cat lib/extra.txt >> out.txt; fi; ls lib | wc -l >> out.txt; if [ -f conf/flags ]; then cat conf/flags >> out.txt; fi'
  shout:
    rule: run
    deps: [use]
    inputs: [shout.sh]
    outputs: [loud.txt]
    cmd: sh shout.sh
`,
    'shout.sh': 'tr a-z A-Z < out.txt > loud.txt\n',
    'lib/a.txt': 'alpha\n',
    'lib/b.txt': 'beta\n',
    'README.md': 'docs\n',
  });
  // A cache of its own: an entry another run stored for the same bytes would be a (correct) hit, not a run.
  return { ws, env: { KILN_DAEMON: '0', COUNTER: counter, KILN_CACHE_DIR: tempDir('kiln-traced-cache-') }, counter };
}

const read = (ws: string, rel: string) => fs.readFileSync(path.join(ws, rel), 'utf8');

/** A build file of one traced run node that counts its runs in COUNTER (`cmd` goes in single quotes). */
const tracedNode = (id: string, outputs: string, cmd: string) =>
  `nodes:\n  ${id}:\n    rule: run\n    inputs: traced\n    env: [COUNTER]\n    outputs: [${outputs}]\n    cmd: 'echo run >> "$COUNTER"; ${cmd}'\n`;

describe('inputs: traced', () => {
  it('reruns on what the command read or probed for, not on other edits; output bytes downstream follow', async () => {
    const { ws, env, counter } = workspace();
    const first = await buildWithSummary(ws, [], env);
    expect(first.exitCode, first.stdout).toBe(0);
    expect(read(ws, 'loud.txt')).toBe('ALPHA\n2\n');

    // Never read: a file elsewhere, and the content of a file in a directory it only listed.
    fs.writeFileSync(path.join(ws, 'README.md'), 'changed\n');
    fs.writeFileSync(path.join(ws, 'lib', 'b.txt'), 'beta, edited\n');
    const untouched = await buildWithSummary(ws, [], env);
    expect(statuses(untouched.summary).cached).toEqual(['shout', 'use']);
    expect(runs(counter)).toBe(1);

    // Read: the file it cat's.
    fs.writeFileSync(path.join(ws, 'lib', 'a.txt'), 'gamma\n');
    const edited = await buildWithSummary(ws, [], env);
    expect(statuses(edited.summary).built).toEqual(['shout', 'use']);
    expect(read(ws, 'loud.txt')).toBe('GAMMA\n2\n');

    // Probed for and missing, now present: reruns (and the listing changed too).
    fs.writeFileSync(path.join(ws, 'lib', 'extra.txt'), 'extra\n');
    const appeared = await buildWithSummary(ws, [], env);
    expect(statuses(appeared.summary).built).toEqual(['shout', 'use']);
    expect(read(ws, 'loud.txt')).toBe('GAMMA\nEXTRA\n3\n');
    expect(runs(counter)).toBe(3);

    // Back as before: an earlier trace finds the earlier entry, restored byte for byte without a run.
    fs.rmSync(path.join(ws, 'lib', 'extra.txt'));
    fs.writeFileSync(path.join(ws, 'lib', 'a.txt'), 'alpha\n');
    const back = await buildWithSummary(ws, [], env);
    expect(statuses(back.summary).cached).toEqual(['shout', 'use']);
    expect(runs(counter)).toBe(3);
    expect(read(ws, 'out.txt')).toBe('alpha\n2\n');
    expect(read(ws, 'loud.txt')).toBe('ALPHA\n2\n');

    // Probed for in a directory nothing lists (it does not exist yet): only the probe can see it appear.
    fs.mkdirSync(path.join(ws, 'conf'));
    fs.writeFileSync(path.join(ws, 'conf', 'flags'), 'flags\n');
    const probed = await buildWithSummary(ws, [], env);
    expect(statuses(probed.summary).built).toEqual(['shout', 'use']);
    expect(read(ws, 'loud.txt')).toBe('ALPHA\n2\nFLAGS\n');
    fs.rmSync(path.join(ws, 'conf'), { recursive: true });
    expect(statuses((await buildWithSummary(ws, [], env)).summary).cached).toEqual(['shout', 'use']);
    expect(runs(counter)).toBe(4);

    const why = await execa('node', [KILN_MAIN, 'why', 'use'], { cwd: ws, env: { ...process.env, ...env }, reject: false });
    expect(why.stdout).toContain('use: up to date');
    fs.writeFileSync(path.join(ws, 'lib', 'extra.txt'), 'again\n');
    const whyAgain = await execa('node', [KILN_MAIN, 'why', 'use'], { cwd: ws, env: { ...process.env, ...env }, reject: false });
    expect(whyAgain.stdout).toContain("read path 'lib/extra.txt': appeared");
    expect(whyAgain.stdout).toContain("read path 'lib/': entries changed");
  });

  it('a program it runs from outside the workspace is keyed by its bytes (its version), not by the files it reads there', async () => {
    const { ws, env, counter } = workspace();
    const tools = tempDir('kiln-traced-tools-');
    const tool = path.join(tools, 'mytool');
    fs.writeFileSync(tool, '#!/bin/sh\n# mytool 1.0\ncat "$1" | tr a-z A-Z\n', { mode: 0o755 });
    fs.writeFileSync(path.join(tools, 'data.txt'), 'installation data\n');
    fs.writeFileSync(
      path.join(ws, 'kiln.yaml'),
      tracedNode('t', 'out.txt', `${tool} lib/a.txt > out.txt; cat ${tools}/data.txt > /dev/null`),
    );
    expect((await buildWithSummary(ws, [], env)).exitCode).toBe(0);
    expect(read(ws, 'out.txt')).toBe('ALPHA\n');
    // A file of the tool's installation it reads is not keyed; the tool itself is.
    fs.writeFileSync(path.join(tools, 'data.txt'), 'other data\n');
    expect(statuses((await buildWithSummary(ws, [], env)).summary).cached).toEqual(['t']);
    fs.writeFileSync(tool, '#!/bin/sh\n# mytool 2.0\ncat "$1" | tr a-z A-Z | rev\n', { mode: 0o755 });
    const upgraded = await buildWithSummary(ws, [], env);
    expect(statuses(upgraded.summary).built).toEqual(['t']);
    expect(read(ws, 'out.txt')).toBe('AHPLA\n');
    expect(runs(counter)).toBe(2);
  });

  it('a workspace reached through a symlink (kiln -f link/kiln.yaml): strace names real paths, which are still the workspace', async () => {
    const { ws, env, counter } = workspace();
    const link = path.join(tempDir('kiln-traced-link-'), 'ws');
    fs.symlinkSync(ws, link);
    const file = path.join(link, 'kiln.yaml');
    expect((await buildWithSummary(ws, ['-f', file], env)).exitCode).toBe(0);
    expect(statuses((await buildWithSummary(ws, ['-f', file], env)).summary).cached).toEqual(['shout', 'use']);
    fs.writeFileSync(path.join(ws, 'lib', 'a.txt'), 'through the link\n');
    const edited = await buildWithSummary(ws, ['-f', file], env);
    expect(statuses(edited.summary).built).toEqual(['shout', 'use']);
    expect(read(ws, 'loud.txt')).toBe('THROUGH THE LINK\n2\n');
    expect(runs(counter)).toBe(2);
  });

  it('a file it reads and then rewrites (a formatter) is keyed by what it left: an edit reruns it, its own rewrite does not', async () => {
    const { ws, env, counter } = workspace();
    fs.writeFileSync(
      path.join(ws, 'kiln.yaml'),
      tracedNode('fmt', 'stamp.txt', 'tr a-z A-Z < lib/a.txt > lib/a.tmp && mv lib/a.tmp lib/a.txt; wc -c < lib/a.txt > stamp.txt'),
    );
    expect((await buildWithSummary(ws, [], env)).exitCode).toBe(0);
    expect(read(ws, 'lib/a.txt')).toBe('ALPHA\n');
    // What it left is what it finds: nothing to do.
    await sleep(150);
    expect(statuses((await buildWithSummary(ws, [], env)).summary).cached).toEqual(['fmt']);
    // An edit to the file it formats: it runs again.
    fs.writeFileSync(path.join(ws, 'lib', 'a.txt'), 'gamma delta\n');
    const edited = await buildWithSummary(ws, [], env);
    expect(statuses(edited.summary).built).toEqual(['fmt']);
    expect(read(ws, 'lib/a.txt')).toBe('GAMMA DELTA\n');
    expect(read(ws, 'stamp.txt')).toBe('12\n');
    expect(runs(counter)).toBe(2);
  });

  it('a file it read that changes while it runs: the result is not cached, and the next build runs it', async () => {
    const { ws, env, counter } = workspace();
    fs.writeFileSync(
      path.join(ws, 'kiln.yaml'),
      tracedNode('slow', 'out.txt', 'cat lib/a.txt > out.txt; sleep 1.5'),
    );
    const build = execa('node', [KILN_MAIN, 'build'], { cwd: ws, env: { ...process.env, ...env, CI: 'true' }, reject: false });
    for (let i = 0; i < 100 && runs(counter) === 0; i++) await sleep(20);
    await sleep(300);
    fs.writeFileSync(path.join(ws, 'lib', 'a.txt'), 'changed meanwhile\n');
    const first = await build;
    expect(first.exitCode, first.stdout).toBe(0);
    expect(first.stdout).toContain("not cached: 'lib/a.txt', which it read, changed while it ran");
    const next = await buildWithSummary(ws, [], env);
    expect(statuses(next.summary).built).toEqual(['slow']);
    expect(read(ws, 'out.txt')).toBe('changed meanwhile\n');
  });

  it('a test over a git project: an upstream commit to files it never read keeps it cached; one to a module it imports, or adding one it looked for, reruns it', async () => {
    const upstream = await upstreamRepo(tempDir('kiln-traced-up-'));
    await upstream.commit(
      {
        'README.rst': 'calc\n',
        'tox.ini': '[tox]\n',
        'calc/__init__.py': '',
        'calc/ops.py': 'def add(a, b):\n    return a + b\n',
        'calc/unused.py': 'X = 1\n',
        'tests/__init__.py': '',
        // It looks for an optional config file, as test suites do: one appearing later must count.
        'tests/test_ops.py': 'import os, unittest\nfrom calc.ops import add\n\nclass T(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(add(1, 2), 3)\n        if os.path.exists("calc/extra.cfg"):\n            self.assertTrue(open("calc/extra.cfg").read())\n',
      },
      'initial',
    );
    const ws = tempDir('kiln-traced-ws-');
    const counter = path.join(tempDir('kiln-traced-count-'), 'runs');
    followUpstream(ws, upstream, `'echo run >> "$COUNTER"; python3 -B -m unittest discover -s tests -t .'`);
    fs.appendFileSync(path.join(ws, 'kiln.yaml'), '    env: [COUNTER]\n    inputs: traced\n');
    const env = { KILN_DAEMON: '0', COUNTER: counter, KILN_CACHE_DIR: tempDir('kiln-traced-cache-') };
    const first = await buildWithSummary(ws, [], env);
    expect(first.exitCode, first.stdout).toBe(0);
    expect(runs(counter)).toBe(1);

    await upstream.commit({ 'README.rst': 'calc, documented\n', 'tox.ini': '[tox]\nenvlist = py3\n', 'calc/unused.py': 'X = 2\n' }, 'docs and config');
    const docs = await buildWithSummary(ws, [], env);
    expect(statuses(docs.summary).built).toEqual(['up']);
    expect(statuses(docs.summary).cached).toEqual(['check']);
    expect(runs(counter)).toBe(1);

    await upstream.commit({ 'calc/ops.py': 'def add(a, b):\n    return b + a\n' }, 'commute');
    const code = await buildWithSummary(ws, [], env);
    expect(statuses(code.summary).built).toEqual(['check', 'up']);
    expect(runs(counter)).toBe(2);

    // unittest discovery lists tests/ and imports every test_*.py: a new test file is seen.
    await upstream.commit({ 'tests/test_more.py': 'import unittest\n\nclass M(unittest.TestCase):\n    def test_one(self):\n        self.assertTrue(True)\n' }, 'more tests');
    const added = await buildWithSummary(ws, [], env);
    expect(statuses(added.summary).built).toEqual(['check', 'up']);
    expect(runs(counter)).toBe(3);

    // A file it probed for and did not find, now committed.
    await upstream.commit({ 'calc/extra.cfg': 'on\n' }, 'config');
    const probed = await buildWithSummary(ws, [], env);
    expect(statuses(probed.summary).built).toEqual(['check', 'up']);
    expect(runs(counter)).toBe(4);
  }, 60_000);

  it('a second machine with an empty cache finds the trace and the result through a shared remote cache', async () => {
    const server = await startKilnServer({ KILN_SERVE_TOKENS: 'traced-token' });
    try {
      const a = workspace();
      const b = workspace();
      // COUNTER is a declared env: its value is in the key, so both machines count in one file.
      b.env.COUNTER = a.counter;
      b.counter = a.counter;
      const remote = { KILN_REMOTE_CACHE: server.url, KILN_REMOTE_TOKEN: 'traced-token' };
      const first = await buildWithSummary(a.ws, [], { ...a.env, ...remote });
      expect(statuses(first.summary).built).toEqual(['shout', 'use']);
      // Machine B: its own checkout, its own empty local cache, the same sources.
      const second = await buildWithSummary(b.ws, [], { ...b.env, ...remote });
      expect(statuses(second.summary).cached).toEqual(['shout', 'use']);
      expect(second.summary.nodes.find((n) => n.id === 'use')!.cache).toBe('remote');
      expect(runs(a.counter)).toBe(1);
      expect(read(b.ws, 'loud.txt')).toBe(read(a.ws, 'loud.txt'));
      // Only the nodes' entries count as remote hits, not the trace list beside them.
      expect(second.summary.remote?.hits).toBe(2);

      // B edits what the node reads: it runs, and publishes its trace; A, still at the old bytes, stays cached.
      fs.writeFileSync(path.join(b.ws, 'lib', 'a.txt'), 'delta\n');
      const edited = await buildWithSummary(b.ws, [], { ...b.env, ...remote });
      expect(statuses(edited.summary).built).toEqual(['shout', 'use']);
      expect(read(b.ws, 'loud.txt')).toBe('DELTA\n2\n');
      fs.writeFileSync(path.join(a.ws, 'lib', 'a.txt'), 'delta\n');
      const followed = await buildWithSummary(a.ws, [], { ...a.env, ...remote });
      expect(statuses(followed.summary).cached).toEqual(['shout', 'use']);
      expect(runs(a.counter)).toBe(2);
      expect(read(a.ws, 'loud.txt')).toBe('DELTA\n2\n');
    } finally {
      await server.stop();
    }
  });

  it('defaults: {test: {inputs: traced}} traces every test node that declares no inputs of its own; mistakes are located', () => {
    const dir = tempDir('kiln-traced-defaults-');
    const load = (text: string) => {
      fs.writeFileSync(path.join(dir, 'kiln.yaml'), text);
      return loadWorkspace(path.join(dir, 'kiln.yaml'));
    };
    const nodes = `nodes:
  tree: {rule: run, cmd: "mkdir -p t", outputs: [t]}
  a: {rule: test, deps: [tree], cmd: "true"}
  b: {rule: test, deps: [tree], cmd: "true", inputs: ["x/**"]}
  c: {rule: run, cmd: "true"}
`;
    const ok = load(`defaults:\n  test: {inputs: traced}\n${nodes}`);
    if (!ok.ok) throw new Error(ok.diagnostics.map(formatDiagnostic).join('\n'));
    const traced = Object.fromEntries(ok.value.nodes.map((n) => [n.id, n.traced === true]));
    expect(traced).toEqual({ tree: false, a: true, b: false, c: false });

    const errors = (text: string) => {
      const r = load(text);
      return r.ok ? [] : r.diagnostics.map(formatDiagnostic);
    };
    expect(errors(`defaults:\n  tset: {inputs: traced}\n${nodes}`)).toEqual([expect.stringMatching(/^kiln\.yaml:2:3: unknown rule 'tset' in defaults\n  hint: did you mean 'test'/)]);
    expect(errors(`defaults:\n  git: {inputs: traced}\n${nodes}`)).toEqual([expect.stringMatching(/^kiln\.yaml:2:17: inputs: traced needs a rule that runs a command; 'git' runs none/)]);
    expect(errors(`defaults:\n  test: {inputs: [src]}\n${nodes}`)).toEqual([expect.stringMatching(/^kiln\.yaml:2:18: the only default for inputs is `traced`/)]);
    expect(errors(`defaults:\n  test: {cmd: x}\n${nodes}`)).toEqual([expect.stringMatching(/^kiln\.yaml:2:10: 'cmd' cannot be defaulted/)]);
  });
});
