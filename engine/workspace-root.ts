import fs from 'node:fs';
import path from 'node:path';

export const BUILD_FILE = 'kiln.yaml';

/**
 * The root build file for a working directory: the outermost kiln.yaml from
 * `cwd` up to the enclosing repository root (a directory holding .git), so
 * that running kiln in a subdirectory builds the same workspace.
 */
export function findRootBuildFile(cwd: string): string | undefined {
  let found: string | undefined;
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, BUILD_FILE);
    if (fs.existsSync(candidate)) found = candidate;
    if (fs.existsSync(path.join(dir, '.git')) || path.dirname(dir) === dir) return found;
  }
}

/**
 * The root package.json of the JS workspace around `cwd`: the nearest one
 * from `cwd` up to the repository root that lists `workspaces` (npm, yarn)
 * or stands beside a pnpm-workspace.yaml, as the package managers find it.
 */
export function findNpmWorkspaceRoot(cwd: string): string | undefined {
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'package.json');
    if (hasWorkspaces(candidate) || (fs.existsSync(path.join(dir, 'pnpm-workspace.yaml')) && fs.existsSync(candidate))) return candidate;
    if (fs.existsSync(path.join(dir, '.git')) || path.dirname(dir) === dir) return undefined;
  }
}

function hasWorkspaces(packageJson: string): boolean {
  try {
    return (JSON.parse(fs.readFileSync(packageJson, 'utf8')) as { workspaces?: unknown }).workspaces !== undefined;
  } catch {
    return false; // absent or not JSON: not a workspace root
  }
}

/** Default local cache location: --cache-dir, then KILN_CACHE_DIR, then the XDG per-user cache dir. */
export function defaultCacheDir(env: NodeJS.ProcessEnv): string {
  if (env.KILN_CACHE_DIR) return path.resolve(env.KILN_CACHE_DIR);
  const base = env.XDG_CACHE_HOME || path.join(env.HOME || '/tmp', '.cache');
  return path.join(base, 'kiln');
}
