import path from 'node:path';
import picomatch from 'picomatch';
import type { NodeDecl } from '../buildfile/types.js';
import { OutputSpec } from '../../cache/local/output-spec.js';
import type { FileAccesses } from './accesses.js';
import { within } from '../buildfile/paths.js';
import { workspaceRel } from './scope.js';

/** What a traced run of a node did that its declaration does not cover (workspace-relative paths, sorted). */
export interface AuditFindings {
  /** Files it read that no input glob names and no dependency produced. */
  reads: string[];
  /** Paths it wrote outside its declared outputs. */
  writes: string[];
  /** Accesses the trace could not place (see FileAccesses.unplaced). */
  unplaced: string[];
}

/** Not audited, though traced nodes key them: package installs (an npm script reads node_modules every run; the lockfile keys it). */
const INSTALLS = /(?:^|\/)node_modules(?:\/|$)/;

/**
 * Bazel's sandbox violations, BuildXL's disallowed file accesses: the files
 * a node's command read outside its inputs, and wrote outside its outputs.
 * Only the workspace is audited; reads of the system (toolchains) and of
 * temp dirs are not. What a command only looked at (stat), listed or probed
 * for is not reported: compilers and interpreters search many places.
 */
export function auditAccesses(
  acc: FileAccesses,
  root: string,
  node: NodeDecl,
  deps: Iterable<{ dir: string; outputs: readonly string[] }>,
): AuditFindings {
  const nodeDir = path.join(root, node.dir);
  const own = OutputSpec.of(node.outputs);
  const products = [...deps].map((d) => ({ dir: d.dir, spec: OutputSpec.of(d.outputs) }));
  const included = node.inputs.filter((p) => !p.glob.startsWith('!')).map((p) => picomatch(p.glob, { dot: true }));
  const excluded = node.inputs.filter((p) => p.glob.startsWith('!')).map((p) => picomatch(p.glob.slice(1), { dot: true }));
  const inWorkspace = (abs: string) => {
    const rel = workspaceRel(root, abs);
    return rel === undefined || rel === '.' || INSTALLS.test(rel) ? undefined : rel;
  };
  const underNode = (abs: string) => within(nodeDir, abs) || undefined;
  const ownProduct = (abs: string) => {
    const rel = underNode(abs);
    return rel !== undefined && own.isProduct(rel);
  };
  const depProduct = (abs: string) =>
    products.some(({ dir, spec }) => {
      const rel = within(dir, abs);
      return !!rel && spec.isProduct(rel);
    });
  const declaredInput = (abs: string) => {
    const rel = underNode(abs);
    return rel !== undefined && included.some((m) => m(rel)) && !excluded.some((m) => m(rel));
  };
  // A traced node declares no inputs: what it reads is its key, never undeclared.
  const reads = node.traced ? [] : [...acc.reads].filter((abs) => inWorkspace(abs) !== undefined && !declaredInput(abs) && !ownProduct(abs) && !depProduct(abs));
  const writes = [...acc.writes].filter((abs) => inWorkspace(abs) !== undefined && !ownProduct(abs));
  return {
    reads: reads.map((abs) => inWorkspace(abs)!).sort(),
    writes: writes.map((abs) => inWorkspace(abs)!).sort(),
    unplaced: acc.unplaced,
  };
}
