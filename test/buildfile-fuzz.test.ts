import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { loadWorkspace } from '../engine/buildfile/load.js';
import { mulberry32 as prng } from '../bench/prng.js';

/**
 * Random damage to a valid workspace must never crash the loader: it either
 * still loads or explains itself with located, non-empty diagnostics.
 */

const VALID = `include:
  - lib/kiln.yaml
toolchains:
  python: python3 --version
nodes:
  gen:
    rule: run
    description: "generate sources"
    deps: [lib]
    inputs:
      - "src/**/*.py"
      - {glob: VERSION, required: false}
      - "!src/**/test_*.py"
    outputs: [out/gen.txt, dist]
    env: [FOO, BAR]
    secretEnv: [TOKEN]
    toolchain: [python]
    cmd: make gen
    timeout: 30
  test:
    rule: run
    dir: tests
    deps:
      - gen
      - lib
    cmd: [pytest, -q]
    outputs: [report.xml]
  docs: {rule: run, cmd: "make docs", deps: [gen], outputs: [site/]}
`;

const LIB = 'nodes:\n  lib:\n    rule: run\n    cmd: make lib\n    outputs: [build]\n';


const INSERTS = [':', '-', '[', '{', '"', ']', '}', ',', '&a', '*a', '!', '#', '\t', ' ', '\n', '?', "'", '|', '>'];

type Mutation = (lines: string[], rand: () => number) => string[];
const pick = (n: number, rand: () => number) => Math.floor(rand() * n);

const MUTATIONS: Mutation[] = [
  // delete a line
  (lines, rand) => lines.filter((_, i) => i !== pick(lines.length, rand)),
  // duplicate a line
  (lines, rand) => {
    const i = pick(lines.length, rand);
    return [...lines.slice(0, i + 1), ...lines.slice(i)];
  },
  // swap two lines
  (lines, rand) => {
    const [i, j] = [pick(lines.length, rand), pick(lines.length, rand)];
    const out = [...lines];
    [out[i], out[j]] = [out[j]!, out[i]!];
    return out;
  },
  // change the indentation of a line
  (lines, rand) => {
    const i = pick(lines.length, rand);
    const indent = ' '.repeat(pick(7, rand));
    return lines.map((l, k) => (k === i ? indent + l.trimStart() : l));
  },
  // replace a character with a random printable one
  (lines, rand) => {
    const text = lines.join('\n');
    const at = pick(text.length, rand);
    return (text.slice(0, at) + String.fromCharCode(32 + pick(95, rand)) + text.slice(at + 1)).split('\n');
  },
  // insert YAML punctuation
  (lines, rand) => {
    const text = lines.join('\n');
    const at = pick(text.length + 1, rand);
    return (text.slice(0, at) + INSERTS[pick(INSERTS.length, rand)]! + text.slice(at)).split('\n');
  },
  // truncate
  (lines, rand) => {
    const text = lines.join('\n');
    return text.slice(0, pick(text.length, rand)).split('\n');
  },
];

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-fuzz-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('1,000 mutated build files: never a crash, always located diagnostics', () => {
  fs.mkdirSync(path.join(dir, 'lib'));
  fs.writeFileSync(path.join(dir, 'lib', 'kiln.yaml'), LIB);
  const rootFile = path.join(dir, 'kiln.yaml');
  const rand = prng(0x6b696c6e);
  const outcomes = { ok: 0, failed: 0 };
  for (let round = 0; round < 1000; round++) {
    let lines = VALID.split('\n');
    for (let n = 1 + pick(3, rand); n > 0; n--) lines = MUTATIONS[pick(MUTATIONS.length, rand)]!(lines, rand);
    const text = lines.join('\n');
    fs.writeFileSync(rootFile, text);
    const loaded = loadWorkspace(rootFile);
    if (loaded.ok) {
      outcomes.ok++;
      continue;
    }
    outcomes.failed++;
    const lineCount = { 'kiln.yaml': lines.length, 'lib/kiln.yaml': LIB.split('\n').length };
    for (const d of loaded.diagnostics) {
      const context = `round ${round}: ${JSON.stringify(d)}\n--- kiln.yaml ---\n${text}`;
      expect(d.message, context).not.toBe('');
      expect(d.pos, context).toBeDefined();
      expect(d.pos!.line, context).toBeGreaterThanOrEqual(1);
      expect(d.pos!.line, context).toBeLessThanOrEqual(lineCount[d.pos!.file as keyof typeof lineCount]);
      expect(d.pos!.column, context).toBeGreaterThanOrEqual(1);
    }
  }
  // Both kinds must occur, or the mutations are too weak (or too strong) to test anything.
  expect(outcomes.ok).toBeGreaterThan(50);
  expect(outcomes.failed).toBeGreaterThan(500);
});
