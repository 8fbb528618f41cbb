import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { loadWorkspace } from '../engine/buildfile/load.js';
import { mulberry32 as prng } from '../bench/prng.js';
import { VALID, mutate } from './yaml-mutations.js';

/**
 * Random damage to a valid workspace must never crash the loader: it either
 * still loads or explains itself with located, non-empty diagnostics.
 */

const LIB = 'nodes:\n  lib:\n    rule: run\n    cmd: make lib\n    outputs: [build]\n';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-fuzz-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('1,000 mutated build files: never a crash, always located diagnostics', () => {
  fs.mkdirSync(path.join(dir, 'lib'));
  fs.writeFileSync(path.join(dir, 'lib', 'kiln.yaml'), LIB);
  const rootFile = path.join(dir, 'kiln.yaml');
  const rand = prng(0x6b696c6e);
  const outcomes = { ok: 0, failed: 0 };
  for (let round = 0; round < 1000; round++) {
    const lines = mutate(VALID, rand).split('\n');
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
