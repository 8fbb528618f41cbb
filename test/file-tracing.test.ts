// The file tracer (engine/tracing/): real programs run under real strace,
// and what they read, looked at, listed, probed for and wrote, as the
// parser places it. Issue 18's foundation: a wrong place here is a stale
// hit (an input missed) or a needless rebuild (an input invented) later.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FileAccesses } from '../engine/tracing/accesses.js';
import { parseStrace } from '../engine/tracing/strace-parse.js';
import { straceAvailable, tracedCommand } from '../engine/tracing/strace.js';
import { tempDir, writeFiles } from './kiln.js';

let dir: string;

/** Runs `sh -c script` (or argv) in `dir` under the tracer and parses what it did. */
function trace(cmd: string | string[], cwd = dir): FileAccesses {
  const traceFile = path.join(tempDir('kiln-strace-'), 'trace');
  const [file, args] = typeof cmd === 'string' ? ['/bin/sh', ['-c', cmd]] : [cmd[0]!, cmd.slice(1)];
  const traced = tracedCommand(file, args, traceFile);
  const r = spawnSync(traced.file, traced.args, { cwd, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return parseStrace(fs.readFileSync(traceFile, 'utf8'), cwd);
}

const inDir = (set: Set<string>) => [...set].filter((p) => p === dir || p.startsWith(`${dir}/`)).map((p) => path.relative(dir, p) || '.').sort();

beforeAll(() => {
  expect(straceAvailable()).toBe(true);
  dir = fs.realpathSync(tempDir('kiln-traced-'));
  writeFiles(dir, {
    'sub/a.txt': 'a\n',
    'b.txt': 'b\n',
    'mod.py': 'VALUE = 1\n',
    'main.py': [
      'import os, mod',
      'print(sorted(os.listdir("sub")))',
      'print(os.path.exists("later.txt"))',
      'fd = os.open("sub", os.O_RDONLY)',
      'print(os.read(os.open("a.txt", os.O_RDONLY, dir_fd=fd), 10))',
      'os.fchdir(fd)',
      'open("a.txt").read()',
      '',
    ].join('\n'),
    'inc/h1.h': '#define X 0\n',
    'm.c': '#include "h1.h"\n#include <stdio.h>\nint main(void) { return X; }\n',
  });
});

describe('strace, parsed', () => {
  it('a shell that changes directory, reads, writes, renames and reads back what it wrote', () => {
    const acc = trace('cd sub && cat a.txt > /dev/null; cd .. && cat b.txt > o.txt && cat o.txt > /dev/null && mv o.txt o2.txt');
    expect(inDir(acc.reads)).toEqual(['b.txt', 'sub/a.txt']);
    // Written first, then read: the command's own product, not an input.
    expect(inDir(acc.writes)).toEqual(['o.txt', 'o2.txt']);
    expect(acc.unplaced).toEqual([]);
  });

  it('python: imports, a listing, a probe for a missing file, openat with a directory descriptor, fchdir', () => {
    const acc = trace(['python3', 'main.py']);
    expect(inDir(acc.reads)).toEqual(expect.arrayContaining(['main.py', 'mod.py', 'sub/a.txt']));
    expect(inDir(acc.listings)).toContain('sub');
    expect(inDir(acc.absent)).toContain('later.txt');
    // Python's own bytecode cache is a write, not an input.
    expect(inDir(acc.reads).filter((p) => p.includes('__pycache__'))).toEqual([]);
    expect(acc.unplaced).toEqual([]);
  });

  it('cc: the source, the headers it found, the header paths it probed, the binary it wrote', () => {
    const acc = trace(['cc', '-I', 'inc', '-o', 'm', 'm.c']);
    expect(inDir(acc.reads)).toEqual(expect.arrayContaining(['inc/h1.h', 'm.c']));
    // Each system header was first looked for in -I inc: a stdio.h dropped there later must count.
    expect(inDir(acc.absent)).toEqual(expect.arrayContaining(['h1.h.gch', 'inc/stdio.h']));
    expect(inDir(acc.writes)).toContain('m');
    expect(inDir(acc.reads)).not.toContain('m');
    expect(acc.reads.has('/usr/include/stdio.h')).toBe(true);
  });

  it('several processes: a background subshell in another directory, a pipeline, a script run by path', () => {
    fs.writeFileSync(path.join(dir, 'run.sh'), '#!/bin/sh\ncat ../b.txt\n', { mode: 0o755 });
    fs.renameSync(path.join(dir, 'run.sh'), path.join(dir, 'sub', 'run.sh'));
    const acc = trace('(cd sub && ./run.sh | wc -c > /dev/null) & (cat b.txt > /dev/null); wait');
    expect(inDir(acc.reads)).toEqual(expect.arrayContaining(['b.txt', 'sub/run.sh']));
  });

  it('threads share a working directory: a chdir in one places the relative paths of another', () => {
    fs.symlinkSync('a.txt', path.join(dir, 'sub', 'link'));
    const script = [
      'import os, threading',
      't = threading.Thread(target=lambda: os.chdir("sub"))',
      't.start(); t.join()',
      // readlink(2) is not an *at call: strace names no directory for it.
      'print(os.readlink("link"))',
    ].join('\n');
    const acc = trace(['python3', '-c', script]);
    expect(inDir(acc.stats)).toContain('sub/link');
    expect(inDir(acc.absent)).not.toContain('link');
  });

  it('paths with odd bytes: quotes, a newline, a backslash, spaces; and one that is not UTF-8 is not placed', () => {
    const odd = 'we"ird\\ \nname \u00e9.txt';
    fs.writeFileSync(path.join(dir, odd), 'x');
    const acc = trace(['cat', odd]);
    expect(inDir(acc.reads)).toContain(odd);
    const raw = Buffer.concat([Buffer.from(`${dir}/`), Buffer.from([0xff, 0x2e, 0x74])]);
    fs.writeFileSync(raw, 'x');
    const bad = trace(['sh', '-c', 'cat ./*.t']);
    expect(bad.unplaced.length).toBeGreaterThan(0);
  });
});
