import fs from 'node:fs';
import path from 'node:path';
import type { Diagnostic } from '../../diagnostic.js';
import { located } from '../hint.js';
import type { LoadTrace } from '../load-trace.js';
import { jsonKeyPos } from './json-pos.js';

/** The package managers whose workspaces kiln imports. */
export type PackageManager = 'npm' | 'pnpm' | 'yarn';

/** Each manager's lockfile names, the one it prefers first (npm reads npm-shrinkwrap.json over package-lock.json). */
const LOCKFILES: Record<PackageManager, string[]> = {
  pnpm: ['pnpm-lock.yaml'],
  yarn: ['yarn.lock'],
  npm: ['npm-shrinkwrap.json', 'package-lock.json'],
};

/** Where pnpm lists workspace packages; its presence alone says pnpm. */
export const PNPM_WORKSPACE = 'pnpm-workspace.yaml';

/**
 * Which package manager owns the workspace at `root`, and its lockfile
 * (workspace-relative) if there is one: the root package.json's
 * `packageManager` (`"pnpm@9.1.0"`, as corepack reads it) when set, else the
 * lockfile present (pnpm, yarn, then npm's, as turbo guesses), else
 * pnpm-workspace.yaml, else npm. The manager decides where packages are
 * listed and how `workspace:` specifiers and the lockfile read, so every
 * file looked for and missing goes into `trace.absent`: one appearing
 * reloads the workspace. Undefined (with a diagnostic at the field) for a
 * manager kiln does not know.
 */
export function detectPackageManager(
  root: string,
  rootFile: string,
  rootText: string,
  declared: unknown,
  diagnostics: Diagnostic[],
  trace: LoadTrace,
): { packageManager: PackageManager; lockfile?: string } | undefined {
  const exists = (file: string): boolean => {
    if (fs.existsSync(path.join(root, file))) return true;
    trace.absent.push(file);
    return false;
  };
  if (declared !== undefined) {
    const named = typeof declared === 'string' ? /^(npm|pnpm|yarn)@./.exec(declared)?.[1] : undefined;
    if (named === undefined) {
      const hint = 'kiln imports npm, pnpm and yarn workspaces: "packageManager" is e.g. "pnpm@9.1.0"';
      diagnostics.push(located(jsonKeyPos(rootFile, rootText, ['packageManager']), `unsupported "packageManager" ${JSON.stringify(declared)}`, hint));
      return undefined;
    }
    const packageManager = named as PackageManager;
    const lockfile = LOCKFILES[packageManager].find(exists);
    return lockfile !== undefined ? { packageManager, lockfile } : { packageManager };
  }
  for (const packageManager of ['pnpm', 'yarn', 'npm'] as const) {
    const lockfile = LOCKFILES[packageManager].find(exists);
    if (lockfile !== undefined) return { packageManager, lockfile };
  }
  return { packageManager: exists(PNPM_WORKSPACE) ? 'pnpm' : 'npm' };
}
