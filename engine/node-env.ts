import type { NodeDecl } from './buildfile/types.js';

/** Env every command gets so that ordinary tools work; not hashed (declare a toolchain for that). */
const ESSENTIAL_ENV = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TERM'];

export function essentialEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of ESSENTIAL_ENV) if (env[n] !== undefined) out[n] = env[n]!;
  return out;
}

/** Declared env plus essentials: nothing undeclared leaks into a command. */
export function nodeEnv(node: NodeDecl, env: NodeJS.ProcessEnv): Record<string, string> {
  const out = essentialEnv(env);
  for (const n of [...node.env, ...node.secretEnv]) if (env[n] !== undefined) out[n] = env[n]!;
  return out;
}
