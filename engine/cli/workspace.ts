import { loadWorkspaceCached } from '../buildfile/snapshot.js';
import type { Workspace } from '../buildfile/types.js';
import { UserError } from '../diagnostic.js';
import { selectTargets } from '../targets.js';
import { STATE_DIR } from '../state-db.js';
import { resolveNpmRoot, resolveRootFile, type GlobalValues } from './args.js';

/**
 * Loads the workspace for a command, or unwinds with its located
 * diagnostics (exit 2): the kiln.yaml workspace, or with `--npm` the npm
 * workspace around the current dir (the flags are part of the memo's
 * identity, so switching scripts reloads).
 */
export async function loadForCommand(values: GlobalValues): Promise<Workspace> {
  const { npm } = values;
  if (values['npm-outputs'] !== undefined && npm === undefined) {
    throw new UserError([{ message: '--npm-outputs needs --npm', hint: 'e.g. --npm build --npm-outputs dist' }]);
  }
  const loaded =
    npm === undefined
      ? await loadWorkspaceCached(resolveRootFile(values), STATE_DIR)
      : await loadWorkspaceCached(resolveNpmRoot(), STATE_DIR, {
          id: `npm ${JSON.stringify([npm, values['npm-outputs'] ?? ''])}`,
          load: async () => (await import('../buildfile/npm/load.js')).npmWorkspaceLoader(npm, values['npm-outputs']),
        });
  if (!loaded.ok) throw new UserError(loaded.diagnostics, 2);
  return loaded.value;
}

/** The nodes a command acts on: the targets and their transitive deps (all nodes when none given). */
export function selectForCommand(ws: Workspace, patterns: string[]): Set<string> {
  const selected = selectTargets(ws, patterns);
  if (!selected.ok) throw new UserError(selected.diagnostics, 2);
  return selected.value;
}
