import fs from 'node:fs';
import path from 'node:path';

/**
 * A cheap stamp of a node's outputs as they are on disk (stat only, no
 * reads): one line per path, directories followed by their entries. If it
 * is unchanged since kiln wrote the outputs, they are still the cached bytes
 * and need no restore, so the no-op path costs stats only.
 */
export function fingerprintOutputs(nodeDirAbs: string, outputs: string[]): string {
  const lines: string[] = [];
  const visit = (rel: string): void => {
    const stamp = stampOf(nodeDirAbs, rel);
    lines.push(stamp.line);
    if (stamp.isDir) for (const name of fs.readdirSync(path.join(nodeDirAbs, rel)).sort()) visit(`${rel}/${name}`);
  };
  for (const o of outputs) visit(o);
  return lines.join('\n');
}

/**
 * Whether the outputs still match a stamp, by lstat of each recorded path
 * only: a directory whose own stamp (mtime, ctime) is unchanged has had no
 * entry added or removed, so its recorded entries are all there is to check.
 */
export function outputsUnchanged(nodeDirAbs: string, fingerprint: string): boolean {
  if (fingerprint === '') return true;
  for (const line of fingerprint.split('\n')) {
    if (stampOf(nodeDirAbs, relOf(line)).line !== line) return false;
  }
  return true;
}

function stampOf(nodeDirAbs: string, rel: string): { line: string; isDir: boolean } {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(path.join(nodeDirAbs, rel));
  } catch {
    return { line: `${rel}:missing`, isDir: false };
  }
  return { line: `${rel}:${st.mode}:${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.ino}`, isDir: st.isDirectory() };
}

/** The path of a stamp line: what precedes its stat fields (paths may contain ':'). */
function relOf(line: string): string {
  if (line.endsWith(':missing')) return line.slice(0, -':missing'.length);
  let end = line.length;
  for (let i = 0; i < 5; i++) end = line.lastIndexOf(':', end - 1);
  return line.slice(0, end);
}
