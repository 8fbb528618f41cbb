// A build file over 256 KB is read piece by piece: the entries of its
// `nodes:` are parsed 500 at a time and handed to the node reader as they
// come (SourceFile.forEachEntry), so the load never holds the whole tree.
// Read so, every file must give what reading it whole gives: the same
// nodes, positions included, and the same diagnostics. Mutated large files
// reach the pieces that cannot be read alone, where the loader reads again.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mulberry32 as prng } from '../bench/prng.js';
import type { Diagnostic } from '../engine/diagnostic.js';
import { readContents } from '../engine/buildfile/file.js';
import { readFile } from '../engine/buildfile/load.js';
import { SourceFile } from '../engine/buildfile/source.js';
import { scanPiece } from '../engine/buildfile/yaml/piece-scanner.js';
import { planSections } from '../engine/buildfile/yaml/sections.js';
import { buildWithSummary, tempDir, writeFiles } from './kiln.js';
import { mutate, pick } from './yaml-mutations.js';

/** Node shapes a large generated file mixes: block and flow mappings, lists, quoted and block scalars, escapes, comments. */
const SHAPES: ((i: number) => string)[] = [
  (i) => `  n${i}:\n    rule: run\n    deps: [n${i - 1}]\n    cmd: "echo ${i}"\n`,
  (i) => `  n${i}: {rule: run, cmd: 'make ${i}', outputs: [out/${i}.txt]}\n`,
  (i) => `  n${i}:\n    rule: run\n    deps:\n      - n${i - 1}\n    inputs: ["src/${i}/**"]\n    cmd: |\n      set -e\n      echo "line \\\\t ${i}"\n\n      echo done\n`,
  (i) => `  # node ${i}\n  "n${i}":\n    rule: run\n    description: "tab\\there ${i}"\n    env: [HOME]\n    cmd: >-\n      folded ${i}\n      text\n`,
];

/** The shapes the piece scanner reads (yaml/piece-scanner.ts): a file of these alone is read without js-yaml. */
const SCANNED_SHAPES: ((i: number) => string)[] = [
  (i) => `  n${i}:\n    rule: run\n    deps: [n${i - 1}]\n    cmd: "echo ${i}"\n`,
  (i) => `  "n${i}": # quoted id\n    rule: run\n    deps:\n    - n${i - 1}\n    outputs: ['out/${i}.txt']\n\n    cmd: make n${i} # why\n`,
  (i) => `  n${i}:\n    rule: run\n    env:\n      - HOME\n    cmd: [sh, -c, "echo ${i} > out.txt"]\n    timeout: 30\n`,
];

function largeFile(seed: number, shapes = SHAPES): string {
  const rand = prng(seed);
  const parts = ['include: []\n', 'nodes:\n', '  n0: {rule: run, cmd: "true"}\n'];
  for (let i = 1; i < 3000; i++) parts.push(shapes[pick(shapes.length, rand)]!(i));
  parts.push('toolchains:\n  sh: sh --version\n');
  return parts.join('');
}

/** What reading `text` gives: its nodes and its diagnostics (in position order, as the loader reports them). */
function read(text: string, how: 'streamed' | 'whole'): { nodes: unknown; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const contents = how === 'streamed' ? readFile({ rel: 'kiln.yaml', text }, true, diagnostics).contents : readContents(new SourceFile('kiln.yaml', '', text, diagnostics), true);
  const at = (d: Diagnostic) => [d.pos?.line ?? 0, d.pos?.column ?? 0, d.message].join(':');
  return { nodes: contents.nodes, diagnostics: diagnostics.sort((a, b) => (at(a) < at(b) ? -1 : at(a) > at(b) ? 1 : 0)) };
}

describe('a large build file read piece by piece', () => {
  it('gives the nodes and positions of reading it whole', () => {
    const text = largeFile(1);
    expect(text.length).toBeGreaterThan(256 * 1024);
    const streamed = read(text, 'streamed');
    expect(streamed.diagnostics).toEqual([]);
    expect((streamed.nodes as unknown[]).length).toBe(3000);
    expect(streamed).toEqual(read(text, 'whole'));
  });

  it('gives the nodes and positions of reading it whole when the piece scanner reads every piece', () => {
    const text = largeFile(2, SCANNED_SHAPES);
    const cut = planSections(text)!;
    // The frame keeps the first entry; the other 2,999 are in pieces of 500.
    expect(cut.pieces.length).toBe(6);
    expect(cut.pieces.every((from, i) => scanPiece(text, from, cut.pieces[i + 1] ?? cut.resumeAt))).toBe(true);
    const streamed = read(text, 'streamed');
    expect(streamed.diagnostics).toEqual([]);
    expect((streamed.nodes as unknown[]).length).toBe(3000);
    expect(streamed).toEqual(read(text, 'whole'));
  });

  it('gives the nodes and diagnostics of reading it whole on 10 mutations of a file the piece scanner reads', () => {
    const rand = prng(0x7363616e);
    let failing = 0;
    for (let round = 0; round < 10; round++) {
      const text = mutate(largeFile(round, SCANNED_SHAPES), rand);
      const streamed = read(text, 'streamed');
      if (streamed.diagnostics.length > 0) failing++;
      expect(streamed, `round ${round}`).toEqual(read(text, 'whole'));
    }
    expect(failing).toBeGreaterThan(2);
  });

  it('an edit deep in a large file reaches the output', async () => {
    const dir = tempDir('kiln-large-edit-');
    const cacheDir = path.join(tempDir('kiln-large-cache-'), 'cache');
    const last = (msg: string) => `  last:\n    rule: run\n    outputs: [last.txt]\n    cmd: [sh, -c, "echo '${msg}' > last.txt"]\n`;
    const file = (msg: string) => largeFile(3, SCANNED_SHAPES).replace('toolchains:', `${last(msg)}toolchains:`);
    for (const msg of ['one', 'two']) {
      writeFiles(dir, { 'kiln.yaml': file(msg) });
      const run = await buildWithSummary(dir, ['last', '--cache-dir', cacheDir]);
      expect(run.exitCode, run.stderr).toBe(0);
      expect(fs.readFileSync(path.join(dir, 'last.txt'), 'utf8')).toBe(`${msg}\n`);
    }
  });

  it('gives the nodes and diagnostics of reading it whole on 25 mutations, pieces that cannot be read alone included', () => {
    const rand = prng(0x73747265);
    let failing = 0;
    for (let round = 0; round < 25; round++) {
      const text = mutate(largeFile(round), rand);
      const streamed = read(text, 'streamed');
      if (streamed.diagnostics.length > 0) failing++;
      expect(streamed, `round ${round}`).toEqual(read(text, 'whole'));
    }
    // The mutations must reach errors, or this compares only clean files.
    expect(failing).toBeGreaterThan(6);
  });
});
