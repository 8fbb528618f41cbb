/**
 * Which variables a node declares: plain names (hashed as null when unset,
 * so setting one later changes the key) and, from npm imports, turbo's
 * patterns (see matchEnv), which select the variables set now.
 */
export function selectEnv(declared: readonly string[], env: Readonly<Record<string, string | undefined>>): Record<string, string | null> {
  const plain = declared.filter((d) => !d.includes('*') && !d.startsWith('!'));
  const out: Record<string, string | null> = Object.fromEntries(plain.map((n) => [n, env[n] ?? null]));
  if (plain.length === declared.length) return out;
  for (const name of matchEnv(declared.filter((d) => !plain.includes(d)), env)) out[name] = env[name]!;
  for (const name of matchEnv(declared.filter((d) => d.startsWith('!')).map((d) => d.slice(1)), env)) delete out[name];
  return out;
}

/**
 * Which variables of `env` a list of turbo env patterns selects: `*` matches
 * any run of characters, a leading `!` excludes, `\` makes the next character
 * literal (`FOO\*` is the variable `FOO*`). A variable is selected when an
 * including pattern matches it and no excluding one does. Sorted.
 */
export function matchEnv(patterns: readonly string[], env: Readonly<Record<string, string | undefined>>): string[] {
  const include: RegExp[] = [];
  const exclude: RegExp[] = [];
  for (const p of patterns) {
    const negated = p.startsWith('!');
    (negated ? exclude : include).push(envPattern(negated ? p.slice(1) : p));
  }
  return Object.keys(env)
    .filter((name) => env[name] !== undefined && include.some((r) => r.test(name)) && !exclude.some((r) => r.test(name)))
    .sort();
}

function envPattern(p: string): RegExp {
  let source = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '\\' && i + 1 < p.length) source += escapeRegExp(p[++i]!);
    else source += c === '*' ? '.*' : escapeRegExp(c);
  }
  return new RegExp(`^${source}$`);
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

