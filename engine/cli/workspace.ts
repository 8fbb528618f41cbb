import type { Workspace } from '../buildfile/types.js';
import { formatDiagnostic, UserError } from '../diagnostic.js';
import { selectTargets } from '../graph/targets.js';
import { loadSpec, type WorkspaceSpec } from '../workspace-spec.js';
import { resolveWorkspaceSpec, type GlobalValues } from './args.js';

/** Loads the workspace for a command (see resolveWorkspaceSpec), or unwinds with its located diagnostics (exit 2). */
export async function loadForCommand(values: GlobalValues): Promise<Workspace> {
  return loadSpecForCommand(resolveWorkspaceSpec(values));
}

/** Loads a resolved workspace spec, printing its warnings, or unwinds with its located diagnostics (exit 2). */
export async function loadSpecForCommand(spec: WorkspaceSpec): Promise<Workspace> {
  const loaded = await loadSpec(spec);
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
