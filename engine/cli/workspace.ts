import { loadWorkspaceCached } from '../buildfile/snapshot.js';
import type { Workspace } from '../buildfile/types.js';
import { UserError } from '../diagnostic.js';
import { selectTargets } from '../targets.js';
import { STATE_DIR } from '../state-dir.js';
import { resolveRootFile } from './args.js';

/** Loads the workspace for a command, or unwinds with its located diagnostics (exit 2). */
export async function loadForCommand(values: { file?: string }): Promise<Workspace> {
  const loaded = await loadWorkspaceCached(resolveRootFile(values), STATE_DIR);
  if (!loaded.ok) throw new UserError(loaded.diagnostics, 2);
  return loaded.value;
}

/** The nodes a command acts on: the targets and their transitive deps (all nodes when none given). */
export function selectForCommand(ws: Workspace, patterns: string[]): Set<string> {
  const selected = selectTargets(ws, patterns);
  if (!selected.ok) throw new UserError(selected.diagnostics, 2);
  return selected.value;
}
