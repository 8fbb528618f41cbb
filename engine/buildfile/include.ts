import path from 'node:path';
import picomatch from 'picomatch';
import { globSync } from 'tinyglobby';
import { readText, type IncludeGlob } from './load-trace.js';
import { escapes, joinRel } from './paths.js';
import type { SourceFile } from './source.js';
import type { TextItem } from './values.js';

/** Never searched for build files: huge, and never the user's own build files. */
const IGNORED = ['**/node_modules/**', '**/.git/**', '**/.kiln/**'];

/** A build file ready to parse. */
export interface PendingFile {
  /** Workspace-relative posix path. */
  rel: string;
  text: string;
}

/**
 * The build files one `include` entry names, read; files already `seen`
 * (workspace-relative) are skipped, so include cycles and overlapping globs
 * load each file once. Patterns are made workspace-relative first, so one
 * that leaves the workspace is rejected before touching the disk.
 */
export function expandInclude(
  file: SourceFile,
  item: TextItem,
  root: string,
  seen: Set<string>,
  globs: IncludeGlob[],
): PendingFile[] {
  const target = joinRel(file.dir, item.value);
  if (escapes(target)) {
    file.report(item.at, `include '${item.value}' is outside the workspace`);
    return [];
  }
  const isGlob = picomatch.scan(target).isGlob;
  const matches = isGlob ? matchIncludeGlob(root, target) : [target];
  if (isGlob) globs.push({ pattern: target, matches });
  if (matches.length === 0) {
    file.report(item.at, `include '${item.value}' matches no file`);
    return [];
  }
  const pending: PendingFile[] = [];
  for (const rel of matches) {
    if (seen.has(rel)) continue;
    seen.add(rel);
    const read = readText(path.join(root, rel));
    if ('text' in read) {
      pending.push({ rel, text: read.text });
      continue;
    }
    const hint = read.error === 'is a directory' ? `include the build file in it, e.g. '${item.value}/kiln.yaml'` : undefined;
    file.report(item.at, `cannot read included file '${rel}': ${read.error}`, hint);
  }
  return pending;
}

/** Build files a workspace-relative include glob matches, sorted. */
export function matchIncludeGlob(root: string, pattern: string): string[] {
  return globSync([pattern], { cwd: root, onlyFiles: true, expandDirectories: false, dot: true, ignore: IGNORED }).sort();
}
