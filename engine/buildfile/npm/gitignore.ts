import picomatch from 'picomatch';
import { readTraced, type LoadTrace } from '../load-trace.js';

/** The pattern lines of a workspace-relative .gitignore (none when absent). */
export type GitignoreReader = (file: string) => string[];

/**
 * Reads .gitignore files of the workspace at `root`, each once (packages
 * share their parents'), noting each in `trace`: its text, or its absence.
 */
export function gitignoreReader(root: string, trace: LoadTrace): GitignoreReader {
  const read = new Map<string, string[]>();
  return (file) => {
    let lines = read.get(file);
    if (!lines) {
      const text = readTraced(root, file, trace);
      lines = text === undefined ? [] : patternLines(text);
      read.set(file, lines);
    }
    return lines;
  };
}

/**
 * Exclude globs (relative to the package dir, without the `!`) for the
 * files git ignores in a package: the patterns of the .gitignore files in
 * the workspace root, the dirs between it and the package, and the package
 * dir itself.
 *
 * Limits, all on the side of hashing more rather than less: .gitignore
 * files below the package dir are not read, and since kiln's excludes
 * cannot be re-included, a negated pattern (`!keep.js`) drops every
 * pattern that precedes it (git lets later patterns override earlier ones,
 * deeper files override shallower ones).
 */
export function gitignoreExcludes(packageDir: string, readGitignore: GitignoreReader): string[] {
  const parts = packageDir === '' ? [] : packageDir.split('/');
  const patterns: { base: string[]; pattern: string }[] = [];
  for (let depth = 0; depth <= parts.length; depth++) {
    const dir = parts.slice(0, depth).join('/');
    for (const pattern of readGitignore(dir === '' ? '.gitignore' : `${dir}/.gitignore`)) patterns.push({ base: parts.slice(depth), pattern });
  }
  const lastNegated = patterns.findLastIndex((p) => p.pattern.startsWith('!'));
  return [...new Set(patterns.slice(lastNegated + 1).flatMap((p) => relativeGlobs(p.pattern, p.base)))];
}

/**
 * Compiled segment matchers, shared by every package: the root .gitignore's
 * patterns are matched against each of a thousand packages' paths, and
 * compiling a glob costs far more than matching with it.
 */
const segmentMatchers = new Map<string, (part: string) => boolean>();
function segmentMatcher(glob: string): (part: string) => boolean {
  let m = segmentMatchers.get(glob);
  if (!m) segmentMatchers.set(glob, (m = picomatch(glob, { dot: true })));
  return m;
}

/** The pattern lines of a .gitignore: no blanks, comments or unescaped trailing spaces. */
function patternLines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.replace(/(?<!\\)\s+$/, ''))
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/**
 * Globs relative to the package dir matching what one gitignore pattern
 * ignores, `base` being the package dir's path segments relative to the
 * .gitignore's dir. A pattern matching the package dir or one of its
 * parents ignores the whole package (`**`).
 */
function relativeGlobs(raw: string, base: string[]): string[] {
  const dirOnly = raw.endsWith('/');
  const body = (dirOnly ? raw.slice(0, -1) : raw).replace(/^\\([#!])/, '$1');
  // Without a slash before the end, a pattern matches a name at any depth.
  const anchored = body.includes('/');
  const segments = (body.startsWith('/') ? body.slice(1) : body).split('/').map(literalGlob);
  if (!anchored) {
    const name = segments[0]!;
    const isMatch = segmentMatcher(name);
    if (base.some((part) => isMatch(part))) return ['**'];
    return forms(`**/${name}`, dirOnly);
  }
  for (let i = 0; i < base.length; i++) {
    const seg = segments[i];
    if (seg === undefined) return ['**']; // the pattern names a parent of the package dir
    if (seg === '**') return forms(segments.slice(i).join('/'), dirOnly);
    if (!segmentMatcher(seg)(base[i]!)) return [];
  }
  if (segments.length === base.length) return ['**']; // the package dir itself
  return forms(segments.slice(base.length).join('/'), dirOnly);
}

/** A path the pattern matches is ignored with everything under it; a dir-only pattern only ignores what is under it. */
const forms = (glob: string, dirOnly: boolean): string[] => (dirOnly ? [`${glob}/**`] : [glob, `${glob}/**`]);

/** Escapes what picomatch reads as syntax but gitignore reads literally (braces, extglob parentheses). */
const literalGlob = (segment: string): string => segment.replace(/[{}()+@!]/g, '\\$&');
