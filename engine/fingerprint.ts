import fs from 'node:fs';
import path from 'node:path';

/**
 * A cheap stamp of a node's outputs as they are on disk (stat only, no
 * reads). If it is unchanged since kiln wrote the outputs, they are still
 * the cached bytes and need no restore: the no-op path costs stats only.
 */
export function fingerprintOutputs(nodeDirAbs: string, outputs: string[]): string {
  const parts: string[] = [];
  const visit = (rel: string): void => {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(path.join(nodeDirAbs, rel));
    } catch {
      parts.push(`${rel}:missing`);
      return;
    }
    parts.push(`${rel}:${st.mode}:${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.ino}`);
    if (st.isDirectory()) {
      for (const name of fs.readdirSync(path.join(nodeDirAbs, rel)).sort()) visit(`${rel}/${name}`);
    }
  };
  for (const o of outputs) visit(o);
  return parts.join('\n');
}
