import fs from 'node:fs';
import path from 'node:path';
import { NO_PRODUCT_DIRS, OutputSpec } from '../../cache/local/output-spec.js';

/**
 * Cheap stamps of files and directories as they are on disk (stat only, no
 * reads): one line per path. Outputs are stamped with lstat (kiln restores
 * symlinks as symlinks), inputs with stat (a rule reads through them).
 */
export type StatMode = 'lstat' | 'stat';

/**
 * A file whose mtime is this close to (or after) the moment it was hashed may
 * have been written again within the filesystem's timestamp granularity
 * without any stat field changing ("racy" in git's index terms). Such
 * entries are not trusted and the file is hashed again.
 */
export const RACY_MARGIN_MS = 100;

/** A stat line: the path, then mode, size, mtime, ctime and inode. */
export function statLine(rel: string, st: fs.Stats): string {
  return `${rel}:${st.mode}:${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.ino}`;
}

/**
 * A node's outputs as kiln left them, directories followed by their
 * entries. If the stamp is unchanged, the outputs are still the cached bytes
 * and need no restore, so the no-op path costs stats only.
 */
export function fingerprintOutputs(nodeDirAbs: string, outputs: string[]): string {
  const spec = OutputSpec.of(outputs);
  const lines: string[] = [];
  const stamp = (rel: string, st: fs.Stats | undefined) => lines.push(st ? statLine(rel, st) : missingLine(rel));
  // Plain outputs: every entry below them. Globs: their matches, and the dirs walked below their
  // bases (an added match changes one), except when a glob's base is the node dir itself
  // ('*.tsbuildinfo'): then only the matches, or every added source file would change the stamp.
  const walkRoot = spec.globBases.includes('');
  const stack: { rel: string; plain: boolean }[] = [
    ...spec.plain.map((rel) => ({ rel, plain: true })),
    ...(walkRoot ? [''] : spec.globOnlyBases).map((rel) => ({ rel, plain: false })),
  ];
  while (stack.length > 0) {
    const { rel, plain } = stack.pop()!;
    const st = rel === '' ? undefined : statOf(nodeDirAbs, rel, 'lstat');
    if (plain || spec.matches(rel) || (!walkRoot && (st === undefined || st.isDirectory()))) {
      if (rel !== '') stamp(rel, st);
    }
    if (rel !== '' && !st?.isDirectory()) continue;
    let names: string[];
    try {
      names = fs.readdirSync(path.join(nodeDirAbs, rel));
    } catch {
      continue;
    }
    for (const name of names) {
      if (plain || !NO_PRODUCT_DIRS.has(name)) stack.push({ rel: rel === '' ? name : `${rel}/${name}`, plain });
    }
  }
  return lines.sort().join('\n');
}

/** Whether the outputs still match their fingerprint (see stampUnchanged). */
export function outputsUnchanged(nodeDirAbs: string, fingerprint: string): boolean {
  return stampUnchanged(nodeDirAbs, fingerprint, 'lstat');
}

/**
 * Whether every path of a stamp still stats the same. A directory whose own
 * line (mtime, ctime) is unchanged has had no entry added, removed or
 * renamed, so its recorded entries are all there is to check.
 *
 * With `ignorable` (input stamps), one harmless change is tolerated: a
 * directory whose own line differs still counts as unchanged when it lists
 * exactly the entries the stamp records below it, apart from those
 * `ignorable` says are never inputs (the node's outputs, pruned dirs).
 * Deleting or restoring `dist/` changes its parent's mtime, not an input;
 * every recorded entry is still checked by its own line.
 */
export function stampUnchanged(nodeDirAbs: string, stamp: string, mode: StatMode, ignorable?: () => (rel: string, name: string) => boolean): boolean {
  if (stamp === '') return true;
  const lines = stamp.split('\n');
  let tolerance: { children: Map<string, Set<string>>; skip: (rel: string, name: string) => boolean } | undefined;
  for (const line of lines) {
    const rel = relOf(line);
    const st = statOf(nodeDirAbs, rel, mode);
    if ((st ? statLine(rel, st) : missingLine(rel)) === line) continue;
    if (!ignorable || !st?.isDirectory() || !recordedAsDir(line, rel)) return false;
    tolerance ??= { children: childrenOf(lines), skip: ignorable() };
    if (!listsRecordedEntries(nodeDirAbs, rel, tolerance.children.get(rel) ?? new Set(), tolerance.skip)) return false;
  }
  return true;
}

/** Whether directory `rel` lists exactly `recorded`, apart from the entries `skip` says are never inputs. */
function listsRecordedEntries(nodeDirAbs: string, rel: string, recorded: ReadonlySet<string>, skip: (rel: string, name: string) => boolean): boolean {
  let listed: string[];
  try {
    listed = fs.readdirSync(path.join(nodeDirAbs, rel));
  } catch {
    return false;
  }
  const inputs = listed.filter((name) => !skip(rel === '' ? name : `${rel}/${name}`, name));
  return inputs.length === recorded.size && inputs.every((name) => recorded.has(name));
}

/** Stamped path → the names stamped directly below it. */
function childrenOf(lines: string[]): Map<string, Set<string>> {
  const children = new Map<string, Set<string>>();
  for (const line of lines) {
    const rel = relOf(line);
    if (rel === '') continue;
    const slash = rel.lastIndexOf('/');
    const parent = slash < 0 ? '' : rel.slice(0, slash);
    let names = children.get(parent);
    if (!names) children.set(parent, (names = new Set()));
    names.add(rel.slice(slash + 1));
  }
  return children;
}

/** Whether a stamp line was written for a directory. */
function recordedAsDir(line: string, rel: string): boolean {
  if (line.endsWith(':missing')) return false;
  const mode = Number(line.slice(rel.length + 1, line.indexOf(':', rel.length + 1)));
  return (mode & fs.constants.S_IFMT) === fs.constants.S_IFDIR;
}

export function missingLine(rel: string): string {
  return `${rel}:missing`;
}

function statOf(nodeDirAbs: string, rel: string, mode: StatMode): fs.Stats | undefined {
  const abs = path.join(nodeDirAbs, rel);
  try {
    return mode === 'lstat' ? fs.lstatSync(abs) : fs.statSync(abs);
  } catch {
    return undefined; // missing, or a parent became a file: either way not what was stamped
  }
}

/** The path of a stamp line: what precedes its stat fields (paths may contain ':'). */
function relOf(line: string): string {
  if (line.endsWith(':missing')) return line.slice(0, -':missing'.length);
  let end = line.length;
  for (let i = 0; i < 5; i++) end = line.lastIndexOf(':', end - 1);
  return line.slice(0, end);
}

/** The paths a stamp covers, and which of them were directories when stamped. */
export function stampPaths(stamp: string): { rel: string; isDir: boolean }[] {
  if (stamp === '') return [];
  return stamp.split('\n').map((line) => {
    const rel = relOf(line);
    return { rel, isDir: recordedAsDir(line, rel) };
  });
}
