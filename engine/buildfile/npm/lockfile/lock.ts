import type { Diagnostic } from '../../../diagnostic.js';
import { located } from '../../hint.js';
import { jsonKeyPos } from '../json-pos.js';
import type { WorkspaceDep, WorkspacePackage } from '../packages.js';

/** A dependency of a package on an external package: the name it is required by, and the node it resolves to. */
export type Edge = [name: string, node: string];

/**
 * A parsed lockfile as the digests need it, whatever its format: nodes are
 * the external (non-workspace) packages, named by a key of the format's own
 * (a node_modules path, a pnpm snapshot key, a yarn entry key); edges to
 * workspace packages are left out, those packages having their own nodes.
 */
export interface Lock {
  /** The external packages `pkg` depends on directly; undefined (with a diagnostic) when the lockfile does not know the package. */
  direct(pkg: WorkspacePackage): Edge[] | undefined;
  /** What identifies an external package (name, resolved version, integrity) and its external dependencies. */
  node(key: string): { label: string; deps: Edge[] };
}

/** Dependencies a lockfile may leave out: optional ones may be skipped, peers are the dependant's business (yarn never installs them). */
export const mayBeMissing = (field: string): boolean => field === 'optionalDependencies' || field === 'peerDependencies';

/** A dependency of a package.json that the lockfile has no resolution for: the lockfile is older than the package.json. */
export function notLocked(pkg: WorkspacePackage, dep: WorkspaceDep, lockfile: string, install: string, diagnostics: Diagnostic[]): void {
  const pos = jsonKeyPos(pkg.file, pkg.text, [dep.field, dep.name]);
  diagnostics.push(located(pos, `'${dep.name}' is not in ${lockfile}`, `the lockfile is out of date: run ${install}`));
}
