// Changes to a generated workspace between builds, and reading its results.
import fs from 'node:fs';
import path from 'node:path';
import { nodeDir, OUTPUT_DIR, OUTPUT_FILE, sourceFile, type GeneratedWorkspace } from './generate.js';

/** Per-checkout kiln state (DESIGN: <workspace>/.kiln/). */
export const STATE_DIR = '.kiln';

/**
 * Changes the content of one source file of a node. The marker must differ
 * between calls: a change back to earlier content would be a legitimate
 * cache hit, not the rebuild the scenario measures.
 */
export function editSource(ws: GeneratedWorkspace, id: string, marker: string, file = 0): void {
  fs.appendFileSync(path.join(ws.dir, sourceFile(id, file)), `// edit ${marker}\n`);
}

/** Deletes every node's outputs (as after a fresh clone, or `git clean`). */
export function removeOutputs(ws: GeneratedWorkspace): void {
  for (const n of ws.nodes) fs.rmSync(path.join(ws.dir, nodeDir(n.id), OUTPUT_DIR), { recursive: true, force: true });
}

/** Deletes kiln's per-checkout state: the next build knows nothing but the cache. */
export function removeState(ws: GeneratedWorkspace): void {
  fs.rmSync(path.join(ws.dir, STATE_DIR), { recursive: true, force: true });
}

/** Node id → its output file's bytes (null when missing). */
export function readOutputs(ws: GeneratedWorkspace): Map<string, Buffer | null> {
  const out = new Map<string, Buffer | null>();
  for (const n of ws.nodes) {
    const file = path.join(ws.dir, nodeDir(n.id), OUTPUT_FILE);
    out.set(n.id, fs.existsSync(file) ? fs.readFileSync(file) : null);
  }
  return out;
}

/** A copy of the workspace's sources and build file only: no outputs, no kiln state. */
export function copySources(ws: GeneratedWorkspace, to: string): GeneratedWorkspace {
  fs.cpSync(ws.dir, to, {
    recursive: true,
    filter: (src) => ![OUTPUT_DIR, STATE_DIR].includes(path.basename(src)),
  });
  return { ...ws, dir: to };
}

/** Ids whose output in `got` is missing or differs from `want` (both from readOutputs). */
export function differingOutputs(want: ReadonlyMap<string, Buffer | null>, got: ReadonlyMap<string, Buffer | null>): string[] {
  return [...want].filter(([id, w]) => {
    const g = got.get(id);
    return !w || !g || !w.equals(g);
  }).map(([id]) => id);
}
