import { loadWorkspaceCached } from './buildfile/snapshot.js';
import type { Workspace } from './buildfile/types.js';
import type { Result } from './diagnostic.js';
import { STATE_DIR } from './state/state-dir.js';

/**
 * Which workspace a command means: a root kiln.yaml, or a JS workspace
 * (npm, pnpm or yarn; with or without turbo.json) without one. Plain data,
 * resolved by the CLI without loading anything heavy (cli/args.ts): the
 * build command hands it to the daemon before deciding to load.
 */
export interface WorkspaceSpec {
  /** The root kiln.yaml, or the JS workspace's root package.json. */
  rootFile: string;
  /** The JS workspace's tasks (`--npm`; turbo.json's, or build, when absent), outputs and strictness. */
  npm?: { scripts?: string; outputs?: string; strictOutputs?: true };
}

/** Loads a resolved workspace spec; for a JS workspace the flags are part of the memo's identity, so switching scripts reloads. */
export async function loadSpec(spec: WorkspaceSpec): Promise<Result<Workspace>> {
  const { npm } = spec;
  return npm === undefined
    ? loadWorkspaceCached(spec.rootFile, STATE_DIR)
    : loadWorkspaceCached(spec.rootFile, STATE_DIR, {
        id: `npm ${JSON.stringify([npm.scripts ?? '', npm.outputs ?? '', npm.strictOutputs === true])}`,
        load: async () => (await import('./buildfile/npm/load.js')).npmWorkspaceLoader(npm.scripts, npm.outputs, npm.strictOutputs === true),
      });
}
