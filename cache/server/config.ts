import type { Tokens } from './auth.js';

/** `HOST:PORT`, `[v6]:PORT` → parts; undefined if malformed. */
export function parseListen(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port > 65535) return undefined;
  return { host: (m[1] ?? m[2])!, port };
}

/**
 * Tokens come from the environment only: argv is visible to every user in
 * `ps`. Comma-separated; blanks around and between commas are ignored.
 */
export function tokensFromEnv(env: NodeJS.ProcessEnv): Tokens {
  const list = (value: string | undefined): string[] =>
    (value ?? '')
      .split(',')
      .map((t) => t.trim())
      .filter((t) => t.length > 0);
  return { readWrite: list(env.KILN_SERVE_TOKENS), readOnly: list(env.KILN_SERVE_READONLY_TOKENS) };
}
