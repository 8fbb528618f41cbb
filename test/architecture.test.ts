// The import structure docs/ARCHITECTURE.md describes, checked: no import
// cycles between modules, and the core never imports the commands, the
// daemon or the benchmark harness built on it.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE_DIRS = ['engine', 'cache', 'rules'];

/** Every .ts file of the product (not tests, benches or examples), root-relative. */
function sources(): string[] {
  const files: string[] = [];
  const stack = [...SOURCE_DIRS];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory()) stack.push(rel);
      else if (rel.endsWith('.ts')) files.push(rel);
    }
  }
  return files.sort();
}

/** Relative imports of a file (static, dynamic and type-only), resolved to root-relative .ts paths. */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!);
  return specs.map((s) => path.posix.normalize(path.posix.join(path.posix.dirname(file), s)).replace(/\.js$/, '.ts'));
}

/** Strongly connected components with more than one file (Tarjan, iterative). */
function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const found: string[][] = [];
  let next = 0;
  for (const start of graph.keys()) {
    if (index.has(start)) continue;
    const work: { v: string; i: number }[] = [{ v: start, i: 0 }];
    index.set(start, next);
    low.set(start, next++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const edges = graph.get(frame.v) ?? [];
      if (frame.i < edges.length) {
        const w = edges[frame.i++]!;
        if (!graph.has(w)) continue;
        if (!index.has(w)) {
          index.set(w, next);
          low.set(w, next++);
          stack.push(w);
          onStack.add(w);
          work.push({ v: w, i: 0 });
        } else if (onStack.has(w)) {
          low.set(frame.v, Math.min(low.get(frame.v)!, index.get(w)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.v, Math.min(low.get(parent.v)!, low.get(frame.v)!));
      if (low.get(frame.v) === index.get(frame.v)) {
        const component: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          component.push(w);
        } while (w !== frame.v);
        if (component.length > 1) found.push(component.sort());
      }
    }
  }
  return found;
}

const graph = new Map(sources().map((f) => [f, importsOf(f)]));
const UPPER = ['engine/cli/', 'engine/daemon/', 'engine/bench-command/'];

describe('the import structure', () => {
  it('has no import cycles', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('the core imports nothing from the commands, the daemon or the bench harness', () => {
    const upward: string[] = [];
    for (const [file, deps] of graph) {
      if (UPPER.some((u) => file.startsWith(u))) continue;
      for (const d of deps) if (UPPER.some((u) => d.startsWith(u))) upward.push(`${file} -> ${d}`);
    }
    expect(upward).toEqual([]);
  });

  it('the daemon does not import the commands', () => {
    const found = [...graph].flatMap(([file, deps]) => (file.startsWith('engine/daemon/') ? deps.filter((d) => d.startsWith('engine/cli/')).map((d) => `${file} -> ${d}`) : []));
    expect(found).toEqual([]);
  });
});
