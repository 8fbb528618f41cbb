import type { NodeDecl, Workspace } from '../buildfile/types.js';
import { positionIn } from '../buildfile/near-pos.js';
import type { Diagnostic } from '../diagnostic.js';
import { expandInputs } from './hash/inputs.js';
import type { StatCache } from './hash/stat-cache.js';
import { secretDigest, type Ingredients } from './key.js';
import { selectEnv } from './env-patterns.js';
import type { Toolchains } from './toolchain.js';
import type { Resolved } from '../pipeline/node-context.js';
import { rules } from '../../rules/index.js';

/**
 * Gathers what a node consumes, given its deps' output digests and the
 * paths its last run wrote undeclared (never its inputs). A required
 * input glob that matches nothing, or a broken toolchain, is a located
 * build-file mistake.
 */
export async function gatherIngredients(
  ws: Workspace,
  node: NodeDecl,
  depDigests: Record<string, string>,
  stats: StatCache,
  toolchains: Toolchains,
  env: NodeJS.ProcessEnv,
  resolved: Resolved,
  written: readonly string[],
): Promise<{ ingredients: Ingredients; inputStamp: string | null } | { error: Diagnostic }> {
  const inputs = expandInputs(ws.root, node, stats, written);
  const unmatched = inputs.unmatched[0];
  if (unmatched) {
    return {
      error: {
        pos: positionIn(node.pos, unmatched.pos),
        message: `input '${unmatched.glob}' of node '${node.id}' matches no file`,
        hint: `check the pattern, or write {glob: "${unmatched.glob}", required: false} if it may match nothing`,
      },
    };
  }
  const toolchain: Record<string, string> = {};
  for (const name of node.toolchain) {
    const t = await toolchains.version(name);
    if ('error' in t) return t;
    toolchain[name] = t.version;
  }
  return {
    ingredients: {
      ...declaredIngredients(node, depDigests, env),
      inputs: inputs.files,
      toolchain,
      resolved: resolved.resolution?.ingredients ?? {},
      uses: resolved.uses,
    },
    inputStamp: inputs.stamp,
  };
}

/** The ingredients known without looking at files, toolchains or rule resolutions. */
export function declaredIngredients(
  node: NodeDecl,
  depDigests: Record<string, string>,
  env: NodeJS.ProcessEnv,
): Omit<Ingredients, 'inputs' | 'toolchain' | 'resolved' | 'uses'> {
  const rule = rules.get(node.rule)!;
  return {
    rule: `${rule.id}@${rule.version}`,
    dir: node.dir,
    attrs: node.attrs,
    outputs: node.outputs,
    deps: depDigests,
    env: selectEnv(node.env, env),
    secretEnv: Object.fromEntries(node.secretEnv.map((n) => [n, env[n] === undefined ? null : secretDigest(n, env[n]!)])),
  };
}

/** A traced node's deps as its key names them: by id, without their output digests (what it read of them is in its inputs). */
export const tracedDeps = (deps: Record<string, string>): Record<string, string> => Object.fromEntries(Object.keys(deps).map((id) => [id, 'traced']));
