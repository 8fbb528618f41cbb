import fs from 'node:fs';
import path from 'node:path';
import type { Workspace } from '../buildfile/types.js';
import type { NodeStates } from './node-states.js';

/**
 * Removes the declared outputs of the selected nodes and forgets their state
 * in this checkout, so the next build restores or rebuilds them. The cache is
 * left alone. Returns how many outputs were on disk.
 */
export function cleanOutputs(ws: Workspace, selected: ReadonlySet<string>, states: NodeStates): number {
  let removed = 0;
  for (const node of ws.nodes.filter((n) => selected.has(n.id))) {
    states.forget(node.id);
    for (const o of node.outputs) {
      const abs = path.join(ws.root, node.dir, o);
      if (fs.existsSync(abs)) removed++;
      fs.rmSync(abs, { recursive: true, force: true });
    }
  }
  return removed;
}
