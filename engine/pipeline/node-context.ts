import path from 'node:path';
import type { NodeDecl, Workspace } from '../buildfile/types.js';
import { positionIn } from '../buildfile/near-pos.js';
import type { Diagnostic } from '../diagnostic.js';
import type { DepView, NodeContext, Resolution, Rule } from '../../rules/rule.js';
import { nodeIndex } from '../graph/node-index.js';

/** What a node learned before its key: the rule's resolution and the dependency metadata it uses. */
export interface Resolved {
  resolution?: Resolution;
  /** `dep.name` → value, for each entry of the node's `uses`. */
  uses: Record<string, string>;
}

/** Every node this one (transitively) depends on, as rules see them. */
export function depViews(
  ws: Workspace,
  node: NodeDecl,
  meta: ReadonlyMap<string, Record<string, string>>,
  byId: ReadonlyMap<string, NodeDecl> = nodeIndex(ws),
): Map<string, DepView> {
  const views = new Map<string, DepView>();
  const stack = node.deps.map((d) => d.id);
  for (let id = stack.pop(); id !== undefined; id = stack.pop()) {
    if (views.has(id)) continue;
    const dep = byId.get(id)!;
    views.set(id, { dir: path.join(ws.root, dep.dir), outputs: dep.outputs, meta: meta.get(id) ?? {} });
    for (const d of dep.deps) stack.push(d.id);
  }
  return views;
}

/**
 * Runs the rule's resolve step (if it has one) and looks up the metadata
 * the node uses. A `uses` naming metadata its dependency does not publish
 * is a located build-file mistake.
 */
export async function resolveNode(
  ctx: NodeContext,
  rule: Rule,
): Promise<{ ok: true; value: Resolved } | { ok: false; error: string } | { ok: false; diagnostic: Diagnostic }> {
  let resolution: Resolution | undefined;
  if (rule.resolve) {
    const r = await rule.resolve(ctx);
    if (!r.ok) return r;
    resolution = r.value;
  }
  const uses: Record<string, string> = {};
  for (const use of ctx.node.uses) {
    const published = ctx.deps.get(use.dep)?.meta ?? {};
    const value = published[use.name];
    if (value === undefined) {
      const names = Object.keys(published);
      return {
        ok: false,
        diagnostic: {
          pos: positionIn(ctx.node.pos, use.pos),
          message: `'${use.dep}' publishes no '${use.name}'`,
          hint: names.length > 0 ? `it publishes: ${names.sort().join(', ')}` : `'${use.dep}' publishes no metadata`,
        },
      };
    }
    uses[`${use.dep}.${use.name}`] = value;
  }
  return { ok: true, value: { ...(resolution ? { resolution } : {}), uses } };
}

/** Env var name for a node id or metadata name: upper case, anything else `_`. */
export function envName(...parts: string[]): string {
  return parts.map((p) => p.toUpperCase().replace(/[^A-Z0-9]/g, '_')).join('_');
}
