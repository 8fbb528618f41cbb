// The two YAML parsers behind the build-file loader must read a file the
// same way: the fast path (js-yaml's event stream, engine/buildfile/yaml/
// events.ts) takes a file only if the `yaml` package, which the loader used
// alone before, reads it without an error or warning into the very same tree
// (kinds, values, written numbers, every node's offset). Otherwise a build
// file would load a different graph depending on which parser took it.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mulberry32 as prng } from '../bench/prng.js';
import { treeFromDocument } from '../engine/buildfile/yaml/document.js';
import { mergePieces, piecesFromEvents, treeFromEvents } from '../engine/buildfile/yaml/events.js';
import { scanPiece } from '../engine/buildfile/yaml/piece-scanner.js';
import { LineIndex } from '../engine/buildfile/yaml/lines.js';
import { planSections } from '../engine/buildfile/yaml/sections.js';
import { VALID, mutate, pick } from './yaml-mutations.js';

/** Files the fast path takes: where the parsers could disagree. */
function agree(text: string): boolean {
  return agreeWith(text, treeFromEvents(text));
}

/**
 * Files the fast path takes when it parses the longest section in pieces of
 * one entry each (a large file's pieces hold 500): every cut is a place
 * where reading a piece alone could differ from reading the file.
 */
function agreeInPieces(text: string): boolean {
  const cut = planSections(text, 1);
  const pieced = cut && piecesFromEvents(text, cut);
  return pieced !== undefined && agreeWith(text, mergePieces(pieced));
}

function agreeWith(text: string, fast: ReturnType<typeof treeFromEvents>): boolean {
  if (!fast) return false;
  const slow = treeFromDocument(text);
  const context = `--- text ---\n${text}`;
  expect(slow.errors, context).toEqual([]);
  expect(slow.warnings, context).toEqual([]);
  expect(fast.root, context).toEqual(slow.root);
  return true;
}

/** Scalars and layouts where YAML parsers are known to part ways. */
const TRICKY = [
  // numbers, booleans and nulls of the core schema, and near misses that are strings
  'a: [1, -1, +1, 0, -0, 012, 0o17, 0o19, 0x1F, 0x1g, 0b101, 1_000, 1e3, 1E-3, .5, 5., -.5, +.5e2, 1.0, 1.50, .inf, -.Inf, +.INF, .nan, .NaN, .NAN, nan, inf]',
  'a: [true, True, TRUE, tRUE, false, False, FALSE, yes, no, on, off, y, n]',
  'a: [~, null, Null, NULL, nULL, "", \'\']\nb: ~\nc: null\nd:\ne: ""',
  'n:\n  1.0:\n    rule: run\n  007: x\n  0x10: y\n  true: z\n  ~: w',
  // quoting and escapes
  'a: "tab\\tnew\\nline \\x41 \\u00e9 \\U0001F600 \\\\ \\" \\/ \\_ \\N \\L \\P \\0 \\a \\e \\v \\b \\f \\r \\ "\nb: \'it\'\'s\'',
  'a: "first\n  second\n\n  third"\nb: \'x\n\n   y  \'\nc: "trailing \\\n  slash"',
  'a: plain\n  continued\n  # not a comment? no: a comment ends it\nb: x',
  'a: plain\n  continued\n\n  after blank\nb: x #comment\nc: x#not-comment\nd: "q" # c',
  // block scalars
  'a: |\n  one\n  two\nb: >\n  folded\n  text\n\n  para\nc: |-\n  strip\nd: |+\n  keep\n\ne: >2-\n    indented\nf: |  # comment\n  x\n',
  'cmd: |\n  set -e\n  echo "$X" # shell comment\n    deeper\n\nnext: 1\n',
  '- |\n  a\n- >-\n  b\n-   |\n   c\n',
  'k: # comment\n  |\n  text\n',
  // collections
  'a: {b: 1, c: [d, {e: f}], "g h": \'i\'}\nj: [ ]\nk: { }\nl: [a, b,]\nm: {a: }\n',
  'a:\n- x\n- - y\n  - z\n- k: v\n  l: w\n-\n  q: r\n',
  '? a\n: b\n? [c]\n: d\n',
  'a: b: c',
  'a:\n  b\n  c: d',
  '- a\n-b\n- c',
  'a: [x\n  , y]\nb: {c:\n  d}',
  'a: 1\na: 2\n__proto__: x\nconstructor: y',
  '"quoted key": 1\n\'single\': 2\n"multi\n  line": 3',
  `${'k'.repeat(1100)}: long key`,
  // documents, directives, whitespace
  '---\na: 1\n...\n',
  '--- |\n  root block\n',
  '%YAML 1.2\n---\na: 1\n',
  'a: 1\n---\nb: 2\n',
  '\ufeffa: 1\n',
  'a: 1\r\nb:\r\n  - x\r\n  - "y"\r\n',
  'a: 1\t\nb:\t2\nc: [\tx]\n',
  '\ta: 1',
  '# only a comment\n',
  '',
  'scalar root',
  '"quoted root"',
  '[flow, root]',
  // anchors, aliases and tags: the `yaml` package's alone
  'a: &x 1\nb: *x',
  'a: !!str 1\nb: !custom x',
  'a: *missing',
  // nesting
  `a: ${'['.repeat(150)}${']'.repeat(150)}`,
  `${'x:\n'.replace('x', 'a')}${Array.from({ length: 120 }, (_, i) => `${' '.repeat(i + 1)}k${i}:`).join('\n')} v`,
  // unicode and odd characters
  'ключ: значение\n"\u2028": x\nemoji: 😀\n',
  'a: "\\0"\nb: x\u0085y\n',
];

/** Cuts between entries right after what a piece read alone might end differently. */
const PIECE_EDGES = [
  'nodes:\n  a: |+\n    kept\n\n\n  b: x\n',
  'nodes:\n  a: >-\n    folded\n    text\n  b: |\n    last\n\n',
  'nodes:\n  a: [x,\n  y]\n  b: 1\n',
  'nodes:\n  a: "open\n  b: still the string"\n  c: 1\n',
  "nodes:\n  a: 'open\n  b: still'\n  c: 1\n",
  'nodes:\n  a: plain\n   continued\n  b: 1\n',
  'nodes:\n  a:\n    k: v\n# a comment at column 0\n  b: 1\n    # deeper comment\n  c: 2\n',
  'top: 1\nnodes:\n  a: 1\n  b: 2\n  c: 3\nafter:\n  x: y\nnodes2:\n  d: 4\n',
  'nodes:\r\n  a: 1\r\n  b:\r\n    - x\r\n  c: 3\r\n',
  'nodes: # the graph\n\n  a: 1\n\n\n  b: 2\n',
  'nodes:\n  a: 1\n  a: 2\n  "q": 3\n  \'s\': 4\n',
  'nodes:\n    a: 1\n  b: 2\n',
  'nodes:\n  a: 1\n  - b\n',
  'nodes:\n  a: &x 1\n  b: *x\n',
  'nodes:\n  a: 1\n  ? b\n  : 2\n',
  'nodes:\n  a: {x: 1,\n  y: 2}\n  b: 1\n',
  `nodes:\n${Array.from({ length: 40 }, (_, i) => `  n${i}:\n    rule: run\n    deps: [n${i + 1}]\n    cmd: |\n      echo ${i}\n`).join('')}`,
];

/** Pieces of `text` cut one entry each that the piece scanner takes (the rest go to js-yaml). */
function scanned(text: string): number {
  const cut = planSections(text, 1);
  if (!cut) return 0;
  return cut.pieces.filter((from, i) => scanPiece(text, from, cut.pieces[i + 1] ?? cut.resumeAt)).length;
}

/** Keys and values near the edges of what the piece scanner takes. */
const SCANNER_KEYS = ['n1', 'a.b/c-d_e', '"@scope/pkg#build"', "'it''s'", '1.0', '007', '~', 'true', '-x', 'a b', 'a ', 'a:b', 'a :', '"q" ', '"a\\"', `${'k'.repeat(1030)}`, '<<', 'ключ'];
const SCANNER_VALUES = [
  'run', 'make all', '"true"', "'x'", "'it''s'", '""', "''", '"a # b"', 'a#b', 'a # comment', 'a   ', '1', '-1', '0x1F', '.5', '1e3', '.inf', 'null', '~', 'True', 'n12',
  '[]', '[ ]', '[a]', '[a, "b", \'c\']', '[ a ,b ]', '[-c, -1]', '[a, ]', '[a,,b]', '[a b]', '[a:b]', '[a #c]', '[[a]]', '[{a: b}]', '[a', '["a" b]',
  'a: b', 'a:b', 'a:', 'http://x', '{a: b}', '|', '>-', '&x 1', '*x', '!t x', '%x', '@x', '`x`', '? x', '- x', '-', '-x', ':x', '"a\\tb"', '"open', "'open", '"x"y', "'x' # c", '#c', 'a\u0085b', 'a\u00a0b', 'a\rb', 'a\u2028b', 'é',
];
const SCANNER_BLOCKS = [
  (k: number) => ['- a', '- "b"', '- [c]'].map((l) => ' '.repeat(k) + l),
  (k: number) => [' '.repeat(k + 2) + '- a', ' '.repeat(k + 2) + '- b # c'],
  (k: number) => [' '.repeat(k) + '- ', ' '.repeat(k) + '- x'],
  (k: number) => [' '.repeat(k) + '-'],
  (k: number) => [' '.repeat(k) + '- - a'],
  (k: number) => [' '.repeat(k) + '- a: b'],
  (k: number) => [' '.repeat(k + 2) + 'nested: map'],
  (k: number) => [' '.repeat(k + 2) + 'continued scalar'],
  (k: number) => [' '.repeat(k + 2) + '- a', ' '.repeat(k + 1) + '- b'],
  (k: number) => [' '.repeat(k + 2) + '- a', ' '.repeat(k + 4) + 'more'],
  (k: number) => [' '.repeat(k + 6) + '# a deeper comment', ''],
  () => [],
];

/** A `nodes:` file of random entries built from the pieces above, with blank, comment, CRLF and odd-indent lines. */
function scannerFile(rand: () => number): string {
  const lines = ['nodes:'];
  const entries = 2 + pick(4, rand);
  for (let e = 0; e < entries; e++) {
    lines.push(`  ${rand() < 0.8 ? `n${e}` : SCANNER_KEYS[pick(SCANNER_KEYS.length, rand)]}:${rand() < 0.1 ? ' # id' : ''}`);
    const indent = rand() < 0.9 ? 4 : 3 + pick(4, rand);
    for (let f = 1 + pick(4, rand); f > 0; f--) {
      const key = rand() < 0.7 ? ['rule', 'cmd', 'deps', 'outputs', 'env'][pick(5, rand)]! : SCANNER_KEYS[pick(SCANNER_KEYS.length, rand)]!;
      if (rand() < 0.3) {
        lines.push(`${' '.repeat(indent)}${key}:${rand() < 0.2 ? ' # list' : ''}`, ...SCANNER_BLOCKS[pick(SCANNER_BLOCKS.length, rand)]!(indent));
      } else {
        const value = rand() < 0.6 ? ['run', 'make all', '"true"', '[n1, "n2"]', 'x # c'][pick(5, rand)] : SCANNER_VALUES[pick(SCANNER_VALUES.length, rand)];
        lines.push(`${' '.repeat(indent)}${key}: ${value}`);
      }
      if (rand() < 0.1) lines.push(['', '# comment', `${' '.repeat(pick(8, rand))}# indented comment`, ' '.repeat(pick(6, rand))][pick(4, rand)]!);
      if (rand() < 0.03) lines.push(`${' '.repeat(indent + pick(3, rand) - 1)}odd: indent`);
    }
  }
  const text = `${lines.join('\n')}\n`;
  return rand() < 0.15 ? text.replaceAll('\n', '\r\n') : text;
}

/**
 * The cut as sections.ts first made it, with multi-line regular expressions
 * (what YAML and JavaScript call a line start, a blank, a comment): the
 * oracle its one-pass scan is held to.
 */
function cutByExpressions(text: string, entriesPerPiece: number): ReturnType<typeof planSections> {
  if (/^(?:---|\.\.\.|%)/m.test(text)) return undefined;
  const topLevel = [...text.matchAll(/^[^\s#].*$/gm)].map((m) => ({ at: m.index, line: m[0] }));
  let best: { keyAt: number; bodyAt: number; end: number } | undefined;
  topLevel.forEach(({ at, line }, i) => {
    if (!/^[A-Za-z_][A-Za-z0-9_-]*:[ ]*(?:#.*)?\r?$/.test(line)) return;
    const bodyAt = text.indexOf('\n', at) + 1;
    const end = topLevel[i + 1]?.at ?? text.length;
    if (bodyAt > 0 && (!best || end - bodyAt > best.end - best.bodyAt)) best = { keyAt: at, bodyAt, end };
  });
  if (!best) return undefined;
  const { keyAt, bodyAt, end } = best;
  const body = text.slice(bodyAt, end);
  const first = /^( +)[^\s#]/m.exec(body);
  if (!first || body.includes('\t')) return undefined;
  const indent = first[1]!.length;
  if (indent > 1 && new RegExp(`^ {1,${indent - 1}}[^\\s#]`, 'm').test(body)) return undefined;
  if (new RegExp(`^ {${indent}}[-?:,\\[\\]{}&*!|>%@\`]`, 'm').test(body)) return undefined;
  const entries = [...body.matchAll(new RegExp(`^ {${indent}}[^\\s#]`, 'gm'))].map((m) => bodyAt + m.index);
  const pieces = entries.filter((_, i) => i > 0 && (i - 1) % entriesPerPiece === 0);
  return pieces.length === 0 ? undefined : { keyAt, cutAt: pieces[0]!, resumeAt: end, pieces };
}

describe('line and column of an offset', () => {
  it('are those counted from the start, asked in file order, backwards and at random', () => {
    const rand = prng(0x6c696e65);
    const text = Array.from({ length: 300 }, () => 'x'.repeat(pick(12, rand)) + ['\n', '\r\n', '\n\n'][pick(3, rand)]).join('');
    const naive = (offset: number) => {
      const before = text.slice(0, offset);
      const line = before.split('\n').length - 1;
      return { line, column: offset - (before.lastIndexOf('\n') + 1) };
    };
    const offsets = Array.from({ length: text.length + 1 }, (_, i) => i);
    const orders = [offsets, [...offsets].reverse(), offsets.map(() => pick(text.length + 1, rand)), [5, 6, 7, 3, 900, 901, 2, text.length]];
    for (const order of orders) {
      const lines = new LineIndex(text);
      for (const offset of order) {
        const line = lines.lineIndex(offset);
        expect({ line, column: offset - lines.start(line) }, `offset ${offset}`).toEqual(naive(offset));
      }
    }
  });
});

describe('a large file is cut where the lines say', () => {
  it('as the multi-line expressions cut it, on every file above and 9,000 generated and mutated ones', () => {
    const rand = prng(0x63757473);
    const markers = ['%YAML 1.2\nnodes:\n  a: 1\n  b: 2\n  c: 3\n', 'nodes:\n  a: 1\n  b: 2\n  c: 3\n%x\n', 'nodes:\n  a: 1\n  b: 2\n---\n  c: 3\n', 'nodes:\n  a: 1\n  b: 2\n...\n', 'nodes:\n  a: 1\n\u00a0 b: 2\n  c: 3\n  d: 4\n'];
    const texts = [...markers, ...TRICKY, ...PIECE_EDGES, VALID, ...Array.from({ length: 4000 }, () => scannerFile(rand)), ...Array.from({ length: 5000 }, () => mutate(VALID, rand))];
    let cut = 0;
    for (const text of texts) {
      for (const per of [1, 3]) {
        // A CR alone, U+2028 and U+2029 break a line for the expressions, not for YAML: such a file is never cut.
        const want = /\r(?!\n)|[\u2028\u2029]/.test(text) ? undefined : cutByExpressions(text, per);
        expect(planSections(text, per), text).toEqual(want);
        if (want) cut++;
      }
    }
    // Most of them are cut: the comparison is of cuts, not of two refusals.
    expect(cut).toBeGreaterThan(8000);
  });
});

describe('the piece scanner reads a cut file exactly as the yaml package does', () => {
  it('takes every piece of a generated build file', () => {
    const text = `nodes:\n${Array.from({ length: 50 }, (_, i) => `  n${i}:\n    rule: run\n    deps: [n${i + 1}, "q"]\n    env:\n      - A # why\n    cmd: make n${i} # note\n\n`).join('')}`;
    expect(scanned(text)).toBe(49);
    expect(agreeInPieces(text)).toBe(true);
  });

  it('on 4,000 files of entries near the edges of what it takes', () => {
    const rand = prng(0x7363616e);
    let taken = 0;
    let agreed = 0;
    for (let round = 0; round < 4000; round++) {
      const text = scannerFile(rand);
      taken += scanned(text);
      if (agreeInPieces(text)) agreed++;
    }
    // The scanner must be exercised: many pieces taken, and many files read by both parsers and compared.
    expect(taken).toBeGreaterThan(2500);
    expect(agreed).toBeGreaterThan(600);
  });
});

describe('the fast YAML path reads files exactly as the yaml package does', () => {
  it('in pieces, at every cut between entries', () => {
    const cut = PIECE_EDGES.filter(agreeInPieces).length;
    expect(cut).toBeGreaterThan(PIECE_EDGES.length / 2);
  });

  it('in pieces, on 5,000 mutations of the fuzz seed', () => {
    const rand = prng(0x70696563);
    let taken = 0;
    for (let round = 0; round < 5000; round++) if (agreeInPieces(mutate(VALID, rand))) taken++;
    expect(taken).toBeGreaterThan(1000);
  });

  it('on scalars and layouts where parsers differ', () => {
    const taken = TRICKY.filter(agree).length;
    // Most of these are ordinary YAML the fast path must take, or it is no fast path.
    expect(taken).toBeGreaterThan(TRICKY.length / 2);
  });

  it('on every build file of the examples and on 5,000 mutations of the fuzz seed', () => {
    const read = (f: string) => fs.readFileSync(path.join(import.meta.dirname, '..', f), 'utf8');
    // rackstack's file is a template: setup.sh puts the upstreams' directory in.
    const examples = [read('examples/hello/kiln.yaml'), read('examples/rackstack/kiln.yaml.in').replaceAll('@UPSTREAMS@', '/srv/upstreams')];
    for (const text of [VALID, ...examples]) expect(agree(text), text).toBe(true);
    const rand = prng(0x79616d6c);
    let taken = 0;
    for (let round = 0; round < 5000; round++) if (agree(mutate(VALID, rand))) taken++;
    expect(taken).toBeGreaterThan(1000);
  });
});
