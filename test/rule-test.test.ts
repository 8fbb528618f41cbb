// rule: test — runs a test command in a scratch copy of a tree dependency;
// passes are cached, failures fail with their log, results are counted.
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import type { RunSummary } from '../engine/pipeline/summary.js';
import { buildWithSummary, KILN_MAIN, statuses, tempDir, writeFiles } from './kiln.js';

/** A workspace whose `src` node copies upstream/ into its output dir `tree`, the tree the tests run against. */
function workspace(nodes: string, files: Record<string, string> = {}): { ws: string; env: Record<string, string>; counter: string } {
  const ws = tempDir('kiln-rule-test-');
  // Outside the workspace: proves how often a command ran without being an input of anything.
  const counter = path.join(tempDir('kiln-rule-test-counter-'), 'runs');
  writeFiles(ws, {
    'kiln.yaml': `
nodes:
  src:
    rule: run
    inputs: ["upstream/**"]
    outputs: [tree]
    cmd: rm -rf tree && cp -r upstream tree
${nodes}`,
    'upstream/tests.sh': 'echo "testing $(cat version.txt)"\n',
    'upstream/version.txt': '1\n',
    ...files,
  });
  return { ws, env: { KILN_CACHE_DIR: tempDir('kiln-rule-test-cache-'), COUNTER: counter }, counter };
}

const runs = (counter: string) => (fs.existsSync(counter) ? fs.readFileSync(counter, 'utf8').split('\n').filter(Boolean).length : 0);
const node = (summary: RunSummary, id: string) => summary.nodes.find((n) => n.id === id)!;

describe('rule: test', () => {
  it('runs in a scratch copy of the tree, caches a pass and does not rerun it', async () => {
    const { ws, env, counter } = workspace(`
  unit:
    rule: test
    deps: [src]
    env: [COUNTER]
    cmd: echo run >> "$COUNTER" && sh tests.sh && touch written-by-test && test "$PWD" != "$KILN_NODE_DIR/tree"
`);
    const first = await buildWithSummary(ws, [], env);
    expect(first.exitCode, first.stdout).toBe(0);
    expect(statuses(first.summary).built).toEqual(['src', 'unit']);
    expect(first.stdout).toContain('unit | testing 1');
    expect(runs(counter)).toBe(1);
    // The dependency's output (a cached artifact) is untouched, and a passing scratch copy is gone.
    expect(fs.existsSync(path.join(ws, 'tree/written-by-test'))).toBe(false);
    expect(fs.existsSync(path.join(ws, '.kiln/scratch/unit'))).toBe(false);

    const again = await buildWithSummary(ws, [], env);
    expect(statuses(again.summary).cached).toEqual(['src', 'unit']);
    expect(runs(counter)).toBe(1);

    // Something the tests consume changed: they run again, on the new tree.
    fs.writeFileSync(path.join(ws, 'upstream/version.txt'), '2\n');
    const changed = await buildWithSummary(ws, [], env);
    expect(statuses(changed.summary).built).toEqual(['src', 'unit']);
    expect(changed.stdout).toContain('unit | testing 2');
    expect(runs(counter)).toBe(2);
  });

  it('fails the node with its log, keeps the scratch tree, and reruns next time', async () => {
    const { ws, env, counter } = workspace(`
  unit:
    rule: test
    deps: [src]
    env: [COUNTER]
    cmd: 'echo run >> "$COUNTER"; echo "AssertionError: 1 != 2" >&2; exit 3'
`);
    const first = await buildWithSummary(ws, ['--logs', 'failed'], env);
    expect(first.exitCode).toBe(1);
    expect(statuses(first.summary).failed).toEqual(['unit']);
    expect(node(first.summary, 'unit').error).toBe('command exited with code 3; its tree is kept in .kiln/scratch/unit');
    expect(first.stdout).toContain('unit | AssertionError: 1 != 2');
    expect(fs.existsSync(path.join(ws, '.kiln/scratch/unit/tests.sh'))).toBe(true);
    const second = await buildWithSummary(ws, ['--logs', 'failed'], env);
    expect(second.exitCode).toBe(1);
    expect(runs(counter)).toBe(2);
  });

  it('counts JUnit and TAP results into the summary notes and progress', async () => {
    const junit = `<?xml version="1.0" encoding="utf-8"?>
<testsuites>
  <testsuite name="nova.tests.unit" tests="5">
    <!-- <testcase name="commented-out"><failure/></testcase> -->
    <testcase classname="nova.tests.unit.test_api" name="test_a" time="0.01"/>
    <testcase classname="nova.tests.unit.test_api" name="test_b&gt;c" time="0.02" note="a > b"></testcase>
    <testcase classname="nova.tests.unit.test_api" name="test_c">
      <system-out><![CDATA[log line mentioning <failure> and <testcase>]]></system-out>
    </testcase>
    <testcase classname="nova.tests.unit.test_api" name="test_d"><skipped message="needs libvirt"/></testcase>
    <testcase classname="nova.tests.unit.test_api" name="test_e"><skipped type="pytest.xfail"></skipped></testcase>
  </testsuite>
</testsuites>
`;
    const tap = ['TAP version 13', '1..3', 'ok 1 - parses', 'ok 2 - windows # SKIP not on linux', 'not ok 3 - flaky thing # TODO fix later', ''].join('\n');
    const { ws, env } = workspace(
      `
  unit:
    rule: test
    deps: [src]
    reports: ["reports/*.xml", "reports/*.tap"]
    cmd: mkdir -p reports && cp junit.xml reports/ && cp out.tap reports/
  functional:
    rule: test
    deps: [src]
    tap: true
    cmd: [sh, -c, "echo '1..4'; echo 'ok 1 boot'; echo 'ok 2 # skip no gpu'; echo '  ok 1 - a subtest, summarised by its parent'; echo 'ok 3 - reboot'; echo 'ok 4 - delete'"]
  broken-but-exit-0:
    rule: test
    deps: [src]
    reports: [junit.xml]
    cmd: printf '<testsuite><testcase name="ok"/><testcase name="bad"><failure message="boom">trace</failure></testcase></testsuite>' > junit.xml
`,
      { 'upstream/junit.xml': junit, 'upstream/out.tap': tap },
    );
    const r = await buildWithSummary(ws, ['--keep-going'], env);
    expect(r.exitCode).toBe(1);
    expect(node(r.summary, 'unit').notes).toEqual(['tests: 4 passed, 0 failed, 4 skipped']);
    expect(node(r.summary, 'functional').notes).toEqual(['tests: 3 passed, 0 failed, 1 skipped']);
    const broken = node(r.summary, 'broken-but-exit-0');
    expect(broken.notes).toEqual(['tests: 1 passed, 1 failed, 0 skipped']);
    expect(broken.error).toMatch(/^the command passed, but 1 test failed/);
    expect(r.stdout).toMatch(/built {3}unit \(.*\)\n {4}tests: 4 passed, 0 failed, 4 skipped\n/);
  });

  it('retries a failing command and reports a late pass as flaky', async () => {
    const { ws, env } = workspace(`
  flaky:
    rule: test
    deps: [src]
    env: [COUNTER]
    retries: 2
    cmd: echo run >> "$COUNTER"; test "$(wc -l < "$COUNTER")" -ge 2
  always-red:
    rule: test
    deps: [src]
    retries: 1
    cmd: echo red; exit 1
`);
    const r = await buildWithSummary(ws, ['--keep-going', '--logs', 'full'], env);
    expect(node(r.summary, 'flaky').notes).toEqual(['flaky: passed on attempt 2 of 3']);
    expect(statuses(r.summary)).toMatchObject({ built: ['flaky', 'src'], failed: ['always-red'] });
    expect(node(r.summary, 'always-red').error).toBe('command exited with code 1 (2 attempts); its tree is kept in .kiln/scratch/always-red');
    expect(r.stdout).toContain('always-red | kiln: attempt 1 of 2 failed: command exited with code 1; retrying');
    expect(r.stdout.match(/always-red \| red/g)).toHaveLength(2);
  });

  it('reports a missing or ambiguous tree dependency at its place in the build file', async () => {
    const { ws, env } = workspace(`
  other:
    rule: run
    outputs: [other]
    cmd: mkdir -p other
  unit:
    rule: test
    deps: [src, other]
    cmd: "true"
  pinned:
    rule: test
    deps: [src]
    tree: other
    cmd: "true"
`);
    const r = await buildWithSummary(ws, ['--keep-going'], env);
    expect(r.exitCode).toBe(2);
    expect(node(r.summary, 'unit').error).toBe("kiln.yaml:13:3: node 'unit' has several possible tree dependencies: src, other\n  hint: choose one with tree: src");
    expect(node(r.summary, 'pinned').error).toBe("kiln.yaml:20:5: tree 'other' is not a dependency of 'pinned'\n  hint: add 'other' to its deps");
  });

  it('kills the test process group when the build is interrupted', async () => {
    const marker = `sleep 31.${process.pid}${Date.now() % 100_000}`;
    const { ws, env } = workspace(`
  slow:
    rule: test
    deps: [src]
    retries: 3
    cmd: sh -c '${marker} & wait'
`);
    const pids = async () => (await execa('pgrep', ['-f', marker], { reject: false })).stdout.split('\n').filter(Boolean);
    const child = execa('node', [KILN_MAIN, 'build'], {
      cwd: ws,
      reject: false,
      extendEnv: false,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', CI: 'true', ...env },
    });
    const t0 = Date.now();
    while ((await pids()).length === 0) {
      expect(Date.now() - t0, 'the test command never started').toBeLessThan(15_000);
      await sleep(50);
    }
    child.kill('SIGTERM');
    const result = await child;
    expect(result.exitCode).toBe(143);
    // Not retried after the interruption, and nothing left running.
    expect(await pids()).toEqual([]);
  });
});
