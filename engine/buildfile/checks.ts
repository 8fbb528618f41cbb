import type { Diagnostic, SourcePos } from '../diagnostic.js';
import { findCycles, resolveDeps } from '../graph/cycles.js';
import type { NodeDecl, ToolchainDecl } from './types.js';
import { formatPos, located, suggest } from './hint.js';
import type { ParsedNode } from './node.js';
import { joinRel } from './paths.js';
import { pushAll } from '../arrays.js';
import { positionIn } from './near-pos.js';

/**
 * Checks that need every build file: unique ids, deps and toolchains that
 * exist, outputs claimed by one node only, no cycles. Returns the nodes with
 * a unique id (the first declaration wins), in declaration order, and each
 * id's place among them (the workspace's index, `adoptNodeIndex`).
 */
export function checkWorkspace(
  parsed: ParsedNode[],
  toolchains: ReadonlyMap<string, ToolchainDecl>,
  diagnostics: Diagnostic[],
): { nodes: NodeDecl[]; places: ReadonlyMap<string, number> } {
  const { indexOf, unique } = uniqueIds(parsed, diagnostics);
  const decls = unique.map((n) => n.decl);
  const deps = resolveDeps(decls, indexOf);
  unique.forEach(({ decl, toolchainPos }, i) => {
    for (let j = 0; j < decl.deps.length; j++) {
      if (deps.edges[deps.first[i]! + j] !== -1) continue;
      const dep = decl.deps[j]!;
      if (dep.id === decl.id) {
        diagnostics.push(located(positionIn(decl.pos, dep.pos), `node '${decl.id}' depends on itself`, undefined, decl.id));
      } else {
        diagnostics.push(located(positionIn(decl.pos, dep.pos), `unknown node '${dep.id}' in deps of '${decl.id}'`, suggest(dep.id, indexOf.keys()), decl.id));
      }
    }
    for (let t = 0; t < decl.toolchain.length; t++) {
      const name = decl.toolchain[t]!;
      if (toolchains.has(name)) continue;
      const hint = suggest(name, toolchains.keys(), "declare it under 'toolchains' in the root build file");
      diagnostics.push(located(toolchainPos[t]!, `unknown toolchain '${name}'`, hint, decl.id));
    }
  });
  pushAll(diagnostics, outputOverlaps(unique));
  const cycles = findCycles(decls, deps);
  pushAll(diagnostics, cycles);
  if (cycles.length === 0) pushAll(diagnostics, usesOutsideDeps(decls, indexOf));
  return { nodes: decls, places: indexOf };
}

/**
 * Ids to their place in the nodes kept (the first of each id): each dep is
 * resolved by it once (resolveDeps), for the checks and the cycle search.
 * Ids are set without asking first, the map's size telling a repeat: a
 * lookup in a 100,000-id map costs a cache miss or two, and repeats are
 * mistakes. At the first repeat the map is made again, asking.
 */
function uniqueIds(parsed: ParsedNode[], diagnostics: Diagnostic[]): { indexOf: Map<string, number>; unique: ParsedNode[] } {
  const indexOf = new Map<string, number>();
  for (let i = 0; i < parsed.length; i++) {
    indexOf.set(parsed[i]!.decl.id, i);
    if (indexOf.size === i) return uniqueIdsReported(parsed, diagnostics);
  }
  return { indexOf, unique: parsed };
}

function uniqueIdsReported(parsed: ParsedNode[], diagnostics: Diagnostic[]): { indexOf: Map<string, number>; unique: ParsedNode[] } {
  const indexOf = new Map<string, number>();
  const unique: ParsedNode[] = [];
  for (const n of parsed) {
    const first = indexOf.get(n.decl.id);
    if (first !== undefined) {
      diagnostics.push(located(n.decl.pos, `duplicate node id '${n.decl.id}'`, `first declared at ${formatPos(unique[first]!.decl.pos)}`, n.decl.id));
      continue;
    }
    indexOf.set(n.decl.id, unique.length);
    unique.push(n);
  }
  return { indexOf, unique };
}

/** `uses` may only name nodes this node (transitively) depends on: their values must be known before its key. */
function usesOutsideDeps(decls: NodeDecl[], indexOf: ReadonlyMap<string, number>): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  for (const decl of decls) {
    if (decl.uses.length === 0) continue;
    const reachable = new Set<string>();
    const stack = decl.deps.map((d) => d.id);
    for (let id = stack.pop(); id !== undefined; id = stack.pop()) {
      const at = indexOf.get(id);
      if (reachable.has(id) || at === undefined) continue;
      reachable.add(id);
      for (const d of decls[at]!.deps) stack.push(d.id);
    }
    for (const use of decl.uses) {
      if (reachable.has(use.dep)) continue;
      const hint = indexOf.has(use.dep) ? `add '${use.dep}' to its deps` : suggest(use.dep, reachable);
      diagnostics.push(located(positionIn(decl.pos, use.pos), `'${decl.id}' uses '${use.dep}.${use.name}' but does not depend on '${use.dep}'`, hint, decl.id));
    }
  }
  return diagnostics;
}

interface Claim {
  /** Workspace-relative. */
  path: string;
  node: string;
  pos: SourcePos;
  order: number;
}

/**
 * Each output path has one producer, and no output lies inside another:
 * restoring one from the cache would clobber the other. Reported at the
 * later declaration of each clashing pair.
 */
function outputOverlaps(nodes: ParsedNode[]): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const claims = new Map<string, Claim>();
  const all: Claim[] = [];
  for (const { decl, outputPos } of nodes) {
    decl.outputs.forEach((out, i) => {
      const claim = { path: joinRel(decl.dir, out), node: decl.id, pos: outputPos[i]!, order: all.length };
      const earlier = claims.get(claim.path);
      if (earlier) diagnostics.push(clash(claim, earlier, `output '${claim.path}' is also declared by node '${earlier.node}'`));
      else claims.set(claim.path, claim);
      all.push(claim);
    });
  }
  // An ancestor is found from its descendant, so each nested pair is seen once.
  for (const claim of all) {
    for (let slash = claim.path.indexOf('/'); slash !== -1; slash = claim.path.indexOf('/', slash + 1)) {
      const outer = claims.get(claim.path.slice(0, slash));
      if (!outer) continue;
      diagnostics.push(
        outer.order < claim.order
          ? clash(claim, outer, `output '${claim.path}' is inside output '${outer.path}' of node '${outer.node}'`)
          : clash(outer, claim, `output '${outer.path}' contains output '${claim.path}' of node '${claim.node}'`),
      );
    }
  }
  return diagnostics;
}

const clash = (later: Claim, earlier: Claim, message: string): Diagnostic =>
  located(later.pos, message, `declared at ${formatPos(earlier.pos)}; a path must belong to one output`, later.node);
