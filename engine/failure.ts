import { formatDiagnostic, type Diagnostic } from './diagnostic.js';

/**
 * Why a node failed, as a value: rendered in one place (the summary's
 * `error` and the log line say the same; the log itself is the node's, in
 * its summary row), and the build's exit code follows from the kinds present.
 *
 * - user: a build-file mistake only seen while building (an input glob
 *   matching nothing, a missing node dir, a rule's own check), located.
 * - command: the node's command (or a rule step) failed, with its exit code
 *   when it exited, or produced what it must not (missing or unsafe outputs).
 * - cache: the local cache could not store what the node produced (a full
 *   disk, a broken cache dir): the command itself succeeded.
 * - internal: a bug or an environment failure (permissions, a crash in kiln).
 */
export type Failure =
  | { kind: 'user'; diagnostic: Diagnostic }
  | { kind: 'command'; message: string; exitCode?: number }
  | { kind: 'cache'; message: string }
  | { kind: 'internal'; message: string };

export function renderFailure(f: Failure): string {
  switch (f.kind) {
    case 'user':
      return formatDiagnostic(f.diagnostic);
    case 'command':
      return f.message;
    case 'cache':
      return `cache: ${f.message}`;
    case 'internal':
      return `internal error: ${f.message}`;
  }
}

/**
 * An exception no stage expected, as a failure: its message and, when it
 * has one, its error code (SQLITE_BUSY_SNAPSHOT and EACCES say more than
 * "database is locked" and "permission denied").
 */
export function internalFailure(e: unknown): Failure {
  const err = e as { message?: unknown; code?: unknown } | null | undefined;
  const message = typeof err?.message === 'string' ? err.message : String(e);
  return { kind: 'internal', message: typeof err?.code === 'string' && !message.includes(err.code) ? `${message} (${err.code})` : message };
}

/** A build's exit code: 2 when a build-file mistake surfaced, 1 for any other failure (or an interrupted build), else 0. */
export function exitCodeOf(failures: Iterable<Failure>, interrupted: boolean): 0 | 1 | 2 {
  let code: 0 | 1 | 2 = interrupted ? 1 : 0;
  for (const f of failures) {
    if (f.kind === 'user') return 2;
    code = 1;
  }
  return code;
}
