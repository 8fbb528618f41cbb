/**
 * User-caused errors are values, not exceptions. A Diagnostic points at the
 * build file (file:line:column) or, when no position applies, at a node id.
 */
export interface SourcePos {
  /** Path of the build file, relative to the workspace root, posix separators. */
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
}

export interface Diagnostic {
  /** Where in a build file, when the mistake is in a build file. */
  pos?: SourcePos;
  /** The node the mistake belongs to, when it is about a node. */
  node?: string;
  message: string;
  hint?: string;
}

export type Result<T> = { ok: true; value: T } | { ok: false; diagnostics: Diagnostic[] };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const fail = <T>(...diagnostics: Diagnostic[]): Result<T> => ({ ok: false, diagnostics });
/** `fail` for a list of any length (spread, a long list would overflow the stack). */
export const failAll = <T>(diagnostics: Diagnostic[]): Result<T> => ({ ok: false, diagnostics });

/** `kiln.yaml:3:5: message` + an indented hint line, as compilers print them. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.pos
    ? `${d.pos.file}:${d.pos.line}:${d.pos.column}: `
    : d.node !== undefined
      ? `node '${d.node}': `
      : '';
  const hint = d.hint ? `\n  hint: ${d.hint}` : '';
  return `${where}${d.message}${hint}`;
}

/**
 * Thrown only to unwind to the CLI boundary, which prints the diagnostics and
 * exits with `exitCode`. Library code returns Result where it can.
 */
export class UserError extends Error {
  constructor(
    readonly diagnostics: Diagnostic[],
    readonly exitCode: 1 | 2 = 2,
  ) {
    super(diagnostics.map(formatDiagnostic).join('\n'));
  }
}

/** Writes a UserError's diagnostics to stderr, a `kiln: ` line each, and gives its exit code. */
export function reportUserError(e: UserError): number {
  process.stderr.write(`${e.diagnostics.map((d) => `kiln: ${formatDiagnostic(d)}`).join('\n')}\n`);
  return e.exitCode;
}

/** Closest candidates by edit distance, for "did you mean" hints. */
export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  const limit = Math.max(2, Math.floor(word.length / 3));
  return best !== undefined && bestDistance <= limit ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}
