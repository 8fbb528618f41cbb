import { loadWorkspaceCached } from '../buildfile/snapshot.js';
import type { Workspace } from '../buildfile/types.js';
import { formatDiagnostic, UserError } from '../diagnostic.js';
import { selectTargets } from '../targets.js';
import { STATE_DIR } from '../state-dir.js';
import { resolveWorkspaceSpec, type GlobalValues, type WorkspaceSpec } from './args.js';

/** Loads the workspace for a command (see resolveWorkspaceSpec), or unwinds with its located diagnostics (exit 2). */
export async function loadForCommand(values: GlobalValues): Promise<Workspace> {
  return loadSpec(resolveWorkspaceSpec(values));
}

/** Loads a resolved workspace spec; for a JS workspace the flags are part of the memo's identity, so switching scripts reloads. */
export async function loadSpec(spec: WorkspaceSpec): Promise<Workspace> {
  const { npm } = spec;
  const loaded =
    npm === undefined
      ? await loadWorkspaceCached(spec.rootFile, STATE_DIR)
      : await loadWorkspaceCached(spec.rootFile, STATE_DIR, {
          id: `npm ${JSON.stringify([npm.scripts ?? '', npm.outputs ?? '', npm.strictOutputs === true])}`,
          load: async () => (await import('../buildfile/npm/load.js')).npmWorkspaceLoader(npm.scripts, npm.outputs, npm.strictOutputs === true),
        });
  if (!loaded.ok) throw new UserError(loaded.diagnostics, 2);
  for (const w of loaded.value.warnings ?? []) process.stderr.write(`kiln: warning: ${formatDiagnostic(w)}\n`);
  return loaded.value;
}

/** The nodes a command acts on: the targets and their transitive deps (all nodes when none given). */
export function selectForCommand(ws: Workspace, patterns: string[]): Set<string> {
  const selected = selectTargets(ws, patterns);
  if (!selected.ok) throw new UserError(selected.diagnostics, 2);
  return selected.value;
}
