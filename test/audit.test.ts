// `kiln build --audit`: every selected node runs under strace, and what it
// read outside its inputs (and its deps' outputs) or wrote outside its
// outputs is reported; --audit=strict fails those nodes. Real commands: a
// shell pipeline and the C compiler reading a header no input names.
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { kiln, tempDir, writeFiles } from './kiln.js';

const ENV = { KILN_DAEMON: '0' };

function workspace(buildFile: string): string {
  const dir = tempDir('kiln-audit-');
  writeFiles(dir, {
    'kiln.yaml': buildFile,
    'src/a.txt': 'a\n',
    'config.json': '{}\n',
    'inc/h1.h': '#define X 0\n',
    'm.c': '#include "h1.h"\nint main(void) { return X; }\n',
  });
  return dir;
}

const UNDECLARED = `nodes:
  gen:
    rule: run
    inputs: [src/a.txt]
    outputs: [out]
    cmd: "mkdir -p out && cat src/a.txt config.json > out/a.txt && echo x > stray.txt"
  use:
    rule: run
    deps: [gen]
    outputs: [use.txt]
    cmd: "cat out/a.txt > use.txt"
  cc:
    rule: run
    inputs: [m.c]
    outputs: [m.o]
    cmd: "cc -I inc -c m.c -o m.o"
`;

describe('kiln build --audit', () => {
  it('reports undeclared reads and writes of the nodes it runs, not reads of a dependency’s outputs', async () => {
    const dir = workspace(UNDECLARED);
    const warn = await kiln(dir, ['build', '--audit'], ENV);
    expect(warn.exitCode, warn.stderr).toBe(0);
    expect(warn.stdout).toContain('audit: read a file no input declares: config.json');
    expect(warn.stdout).toContain('audit: wrote a path outside its outputs: stray.txt');
    expect(warn.stdout).toContain('audit: read a file no input declares: inc/h1.h');
    // `use` reads gen's output: declared through its dep, so nothing to report.
    expect(warn.stdout).not.toMatch(/audit: .*out\/a\.txt/);
    expect(fs.readFileSync(path.join(dir, 'use.txt'), 'utf8')).toBe('a\n{}\n');
    expect(fs.readdirSync(path.join(dir, '.kiln', 'tmp')).filter((f) => f.endsWith('.strace'))).toEqual([]);
  });

  it('runs cached nodes again, and under strict fails the nodes that read or wrote undeclared', async () => {
    const dir = workspace(UNDECLARED);
    expect((await kiln(dir, ['build'], ENV)).exitCode).toBe(0);
    const strict = await kiln(dir, ['build', '--audit=strict'], ENV);
    expect(strict.exitCode).toBe(1);
    expect(strict.stdout).toMatch(/failed +gen : audit: read a file no input declares: config\.json; wrote a path outside its outputs: stray\.txt/);
    expect(strict.stdout).toMatch(/failed +cc : audit: read a file no input declares: inc\/h1\.h/);
    expect(strict.stdout).toMatch(/skipped use/);

    // Declared, the same commands pass the strict audit.
    fs.writeFileSync(
      path.join(dir, 'kiln.yaml'),
      UNDECLARED.replace('inputs: [src/a.txt]', 'inputs: [src/a.txt, config.json]')
        .replace('outputs: [out]', 'outputs: [out, stray.txt]')
        .replace('inputs: [m.c]', 'inputs: [m.c, "inc/*.h"]'),
    );
    const clean = await kiln(dir, ['build', '--audit=strict'], ENV);
    expect(clean.exitCode, clean.stdout).toBe(0);
    expect(clean.stdout).not.toContain('audit:');
    expect(clean.stdout).toMatch(/3 built/);
  });

  it('finds the undeclared outputs and reads of an npm script (a JS workspace with turbo.json)', async () => {
    const dir = tempDir('kiln-audit-npm-');
    writeFiles(dir, {
      'package.json': JSON.stringify({ name: 'root', private: true, workspaces: ['packages/*'] }),
      'turbo.json': JSON.stringify({ tasks: { build: { outputs: ['dist/**'] } } }),
      'shared.json': '{}\n',
      'packages/a/package.json': JSON.stringify({
        name: 'a',
        version: '1.0.0',
        scripts: { build: 'mkdir -p dist && cat src.txt > dist/a.js && echo y > stray.txt && cat ../../shared.json > /dev/null' },
      }),
      'packages/a/src.txt': 'src\n',
    });
    await execa('git', ['init', '-q', dir]);
    const run = await kiln(dir, ['build', '--audit'], ENV);
    expect(run.exitCode, run.stderr).toBe(0);
    // The package's own files are its inputs (turbo's default), so src.txt is not reported.
    expect(run.stdout).toContain('audit: read a file no input declares: shared.json');
    expect(run.stdout).toContain('audit: wrote a path outside its outputs: packages/a/stray.txt');
    expect(run.stdout).not.toMatch(/audit: .*src\.txt/);
  });

  it('a traced node has no undeclared reads (what it reads is its key), only undeclared writes', async () => {
    const dir = workspace(`nodes:\n  t:\n    rule: run\n    inputs: traced\n    outputs: [out]\n    cmd: "mkdir -p out && cat config.json > out/c && echo x > stray.txt"\n`);
    const run = await kiln(dir, ['build', '--audit'], ENV);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).not.toContain('no input declares');
    expect(run.stdout).toContain('audit: wrote a path outside its outputs: stray.txt');
  });

  it('is a usage error with --dry-run, or with a value other than strict', async () => {
    const dir = workspace(UNDECLARED);
    const dry = await kiln(dir, ['build', '--audit', '--dry-run'], ENV);
    expect(dry.exitCode).toBe(2);
    expect(dry.stderr).toContain('--audit traces the commands a build runs');
    const bad = await kiln(dir, ['build', '--audit=loud'], ENV);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("--audit takes no value or 'strict', got 'loud'");
    // A target after a bare --audit is a target, not the flag's value.
    const target = await kiln(dir, ['build', '--audit', 'cc'], ENV);
    expect(target.exitCode, target.stderr).toBe(0);
    expect(target.stdout).toMatch(/1 built/);
  });
});
