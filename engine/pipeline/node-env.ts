import type { NodeDecl } from '../buildfile/types.js';
import { envName } from './node-context.js';
import { selectEnv } from '../keys/env-patterns.js';

/** Env every command gets so that ordinary tools work; not hashed (declare a toolchain for that). */
const ESSENTIAL_ENV = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TERM'];

export function essentialEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of ESSENTIAL_ENV) if (env[n] !== undefined) out[n] = env[n]!;
  return out;
}

/**
 * Declared env (hashed, secret and pass-through) plus essentials: nothing undeclared leaks into a command.
 * Also KILN_<DEP>_<NAME> for each used metadata value and KILN_DEP_<DEP>_DIR
 * (absolute node dir) for each direct dependency; paths are not hashed.
 */
export function nodeEnv(node: NodeDecl, env: NodeJS.ProcessEnv, uses: Record<string, string>, depDirs: Map<string, string>): Record<string, string> {
  const out = essentialEnv(env);
  for (const [n, value] of Object.entries(selectEnv([...node.env, ...node.secretEnv, ...(node.passEnv ?? [])], env))) if (value !== null) out[n] = value;
  for (const use of node.uses) out[`KILN_${envName(use.dep, use.name)}`] = uses[`${use.dep}.${use.name}`]!;
  for (const dep of node.deps) out[`KILN_DEP_${envName(dep.id)}_DIR`] = depDirs.get(dep.id)!;
  return out;
}
