import fs from 'node:fs';
import path from 'node:path';
import type { NodeDecl } from '../buildfile/types.js';
import { listSome } from '../report/format.js';
import { STATE_DIR, ensureStateDir } from '../state/state-dir.js';
import { auditAccesses, type AuditFindings } from '../tracing/audit.js';
import type { FileAccesses } from '../tracing/accesses.js';
import { rootedAccesses } from '../tracing/scope.js';
import { parseStrace } from '../tracing/strace-parse.js';
import type { DepView, RuleOutcome } from '../../rules/rule.js';

let traces = 0;

/** Where a node's trace goes while it runs traced (`inputs: traced`, `--audit`): kiln's own temp dir, never an input. */
export function traceFile(root: string, id: string): string {
  const dir = ensureStateDir(root, path.join(root, STATE_DIR, 'tmp'));
  const file = path.join(dir, `trace-${process.pid}-${++traces}-${id.replace(/[^A-Za-z0-9._-]/g, '_')}.strace`);
  fs.rmSync(file, { force: true });
  return file;
}

/**
 * The accesses a node's run left in its trace file, which goes, with the
 * workspace's real path written as its root. A command that never started
 * traced nothing.
 */
export function readTrace(file: string, cwd: string, root: string): FileAccesses {
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    // the command never started (cannot run): nothing was traced
  }
  fs.rmSync(file, { force: true });
  return rootedAccesses(parseStrace(text, cwd), root);
}

/**
 * What a node's accesses say against its declaration: notes for every
 * undeclared read and write, and under `--audit=strict` a run that did any
 * of them fails (its outputs are not cached: they may depend on what no key
 * covers).
 */
export function auditOutcome(
  outcome: RuleOutcome,
  accesses: FileAccesses,
  audit: { mode: 'warn' | 'strict'; root: string; node: NodeDecl; deps: ReadonlyMap<string, DepView> },
): { outcome: RuleOutcome; notes: string[] } {
  const findings = auditAccesses(accesses, audit.root, audit.node, audit.deps.values());
  const notes = auditNotes(findings);
  if (audit.mode === 'strict' && notes.length > 0 && outcome.ok) {
    return { outcome: { ok: false, error: `audit: ${notes.map((n) => n.replace(/^audit: /, '')).join('; ')}` }, notes: [] };
  }
  return { outcome, notes };
}

function auditNotes(f: AuditFindings): string[] {
  const notes: string[] = [];
  if (f.reads.length > 0) notes.push(`audit: read ${f.reads.length === 1 ? 'a file' : `${f.reads.length} files`} no input declares: ${listSome(f.reads, 5)}`);
  if (f.writes.length > 0) notes.push(`audit: wrote ${f.writes.length === 1 ? 'a path' : `${f.writes.length} paths`} outside its outputs: ${listSome(f.writes, 5)}`);
  if (f.unplaced.length > 0) notes.push(`audit: ${f.unplaced.length} accesses the trace could not place: ${listSome(f.unplaced, 3)}`);
  return notes;
}
