import path from 'node:path';

/**
 * Lexical normal form of a relative posix path: no `.` segments, no doubled or
 * trailing slash, `..` folded; the directory itself is ''. Lexical on purpose:
 * build files name paths that may not exist yet.
 */
export function normalise(p: string): string {
  const n = path.posix.normalize(p);
  if (n === '.' || n === './') return '';
  return n.endsWith('/') ? n.slice(0, -1) : n;
}

/** `rel` (relative to `dir`) as a normalised path relative to the same base as `dir`. */
export function joinRel(dir: string, rel: string): string {
  return normalise(dir === '' ? rel : `${dir}/${rel}`);
}

/** True for a normalised path that leaves its base directory. */
export function escapes(normalised: string): boolean {
  return normalised === '..' || normalised.startsWith('../');
}

export const isAbsolute = (p: string): boolean => path.posix.isAbsolute(p);

/** Whether a relative path is `dir` itself or lies under it. */
export function isWithin(rel: string, dir: string): boolean {
  return rel === dir || rel.startsWith(`${dir}/`);
}

/** Absolute `abs` relative to absolute `dir`, posix: '' for `dir` itself, undefined when it lies outside. */
export function within(dir: string, abs: string): string | undefined {
  const rel = path.relative(dir, abs);
  return rel.startsWith('..') || path.isAbsolute(rel) ? undefined : rel.split(path.sep).join('/');
}
