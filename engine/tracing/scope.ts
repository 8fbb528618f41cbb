import path from 'node:path';

/** kiln's state and VCS internals, at any depth (a test's scratch copy lives in `<node dir>/.kiln/`). */
const NEVER = /(?:^|\/)\.(?:kiln|git)(?:\/|$)/;

/**
 * The workspace-relative posix path of a traced path, or undefined when it
 * is not the workspace's to key or audit: outside the workspace (the system,
 * toolchains, the home and temp dirs; toolchains are keyed by version), or
 * kiln's own state and VCS internals. The workspace root itself is '.'.
 */
export function workspaceRel(root: string, abs: string): string | undefined {
  const rel = path.relative(root, abs).split(path.sep).join('/');
  if (rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  if (rel === '') return '.';
  return NEVER.test(rel) ? undefined : rel;
}
