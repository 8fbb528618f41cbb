import type { Diagnostic } from '../../../diagnostic.js';
import { sha256Hex } from '../../../keys/hash/sha256.js';
import type { NodeWorkspace } from '../packages.js';
import type { Edge, Lock } from './lock.js';
import { npmLock } from './npm.js';
import { pnpmLock } from './pnpm.js';
import { yarnBerryLock } from './yarn-berry.js';
import { yarnClassicLock } from './yarn-classic.js';
import { pushAll } from '../../../arrays.js';

/**
 * For each workspace package dir, a digest (sha256 hex) of the resolved
 * external dependency closure the lockfile gives it: every non-workspace
 * package reachable from its dependencies through other non-workspace
 * packages, with resolved versions and integrity, and how they depend on
 * each other. Workspace dependencies are not followed: their own nodes
 * cover them. This makes the lockfile an input of exactly the packages whose
 * dependencies it resolves: an update of one resolved version changes the
 * digests of the packages that reach it and no other.
 *
 * The lockfile is the one readWorkspace read (its text is in the load
 * trace); none gives an empty map. One kiln cannot read exactly (an
 * unsupported version, an entry it cannot resolve) is never an error:
 * each problem is a located warning, and every package keys on the whole
 * lockfile instead (never stale; any lockfile change then rebuilds all).
 * Parsed once; each external package is hashed once however many packages
 * reach it.
 */
export function lockfileDigests(workspace: NodeWorkspace, warnings: Diagnostic[]): Map<string, string> {
  const digests = new Map<string, string>();
  if (!workspace.lockfile) return digests;
  const problems: Diagnostic[] = [];
  const lock = parseLock(workspace, problems);
  if (lock) {
    const closure = closureDigests(lock);
    for (const pkg of workspace.packages) {
      const direct = lock.direct(pkg);
      if (direct) digests.set(pkg.dir, sha256Hex(JSON.stringify(direct.map(([name, key]) => JSON.stringify([name, closure(key)])).sort())));
    }
  }
  if (problems.length === 0 && lock) return digests;
  pushAll(warnings, problems);
  warnings.push({
    pos: problems[0]?.pos ?? { file: workspace.lockfile.file, line: 1, column: 1 },
    message: `${workspace.lockfile.file} is not read exactly (${problems.length} problem${problems.length === 1 ? '' : 's'}): every package keys on the whole lockfile`,
    hint: 'packages then rebuild on any lockfile change, not only on changes to their own dependencies',
  });
  const whole = sha256Hex(`kiln-whole-lockfile\0${workspace.lockfile.text}`);
  return new Map(workspace.packages.map((p) => [p.dir, whole]));
}

function parseLock(workspace: NodeWorkspace, diagnostics: Diagnostic[]): Lock | undefined {
  const { lockfile, packages } = workspace;
  if (!lockfile) return undefined;
  switch (lockfile.file) {
    case 'pnpm-lock.yaml':
      return pnpmLock(lockfile.file, lockfile.text, diagnostics);
    case 'yarn.lock':
      return /^__metadata:/m.test(lockfile.text)
        ? yarnBerryLock(lockfile.file, lockfile.text, workspace.resolutions, diagnostics)
        : yarnClassicLock(lockfile.file, lockfile.text, packages, diagnostics);
    default:
      return npmLock(lockfile.file, lockfile.text, packages, diagnostics);
  }
}

interface Visit {
  key: string;
  label: string;
  deps: Edge[];
  /** Tarjan's DFS number, lowest number reachable, position on the component stack, next edge to follow. */
  index: number;
  low: number;
  at: number;
  next: number;
}

/**
 * The digest of each external package's closure, a Merkle hash over the
 * dependency graph: a package's digest covers its label and its
 * dependencies' digests, so it changes exactly when something it reaches
 * changes. Dependency cycles (npm allows them) are hashed as one strongly
 * connected component, found with Tarjan's algorithm, iteratively (chains
 * of thousands of packages must not overflow the stack); each package is
 * visited once across all calls.
 */
function closureDigests(lock: Lock): (key: string) => string {
  const done = new Map<string, string>();
  /** Visited packages whose component is not finished yet (Tarjan's stack). */
  const open = new Map<string, Visit>();
  const stack: Visit[] = [];
  let counter = 0;
  const finish = (members: Visit[]): void => {
    const only = members.length === 1 ? members[0]! : undefined;
    if (only && !only.deps.some(([, key]) => key === only.key)) {
      done.set(only.key, sha256Hex(JSON.stringify([only.label, only.deps.map(([name, key]) => `${name} ${done.get(key)!}`).sort()])));
      open.delete(only.key);
      return;
    }
    // A cycle: each member's digest covers the whole component, members named by label inside it.
    const labels = new Map(members.map((m) => [m.key, m.label]));
    const edge = ([name, key]: Edge): string => (labels.has(key) ? JSON.stringify([name, labels.get(key)]) : `${name} ${done.get(key)!}`);
    const component = sha256Hex(members.map((m) => JSON.stringify([m.label, m.deps.map(edge).sort()])).sort().join('\n'));
    for (const m of members) {
      done.set(m.key, sha256Hex(`${component}\n${m.label}`));
      open.delete(m.key);
    }
  };
  return (start) => {
    const path: Visit[] = [];
    const enter = (key: string): void => {
      const { label, deps } = lock.node(key);
      const visit: Visit = { key, label, deps, index: counter, low: counter, at: stack.length, next: 0 };
      counter++;
      open.set(key, visit);
      stack.push(visit);
      path.push(visit);
    };
    if (!done.has(start)) enter(start);
    while (path.length > 0) {
      const visit = path[path.length - 1]!;
      if (visit.next < visit.deps.length) {
        const child = visit.deps[visit.next++]![1];
        if (done.has(child)) continue;
        const onStack = open.get(child);
        if (onStack) visit.low = Math.min(visit.low, onStack.index);
        else enter(child);
        continue;
      }
      path.pop();
      const parent = path[path.length - 1];
      if (parent) parent.low = Math.min(parent.low, visit.low);
      if (visit.low === visit.index) finish(stack.splice(visit.at));
    }
    return done.get(start)!;
  };
}
