import fs from 'node:fs';
import path from 'node:path';
import type { Workspace } from '../buildfile/types.js';
import type { History } from './history.js';

/**
 * Removes the declared outputs of the selected nodes and forgets their state
 * in this checkout, so the next build restores or rebuilds them. The cache is
 * left alone. Returns how many outputs were on disk.
 */
export function cleanOutputs(ws: Workspace, selected: ReadonlySet<string>, history: History): number {
  let removed = 0;
  for (const node of ws.nodes.filter((n) => selected.has(n.id))) {
    history.forgetNodeState(node.id);
    for (const o of node.outputs) {
      const abs = path.join(ws.root, node.dir, o);
      if (fs.existsSync(abs)) removed++;
      fs.rmSync(abs, { recursive: true, force: true });
    }
  }
  return removed;
}
