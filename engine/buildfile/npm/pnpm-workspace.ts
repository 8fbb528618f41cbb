import path from 'node:path';
import type { Diagnostic, SourcePos } from '../../diagnostic.js';
import { located } from '../hint.js';
import { readText } from '../load-trace.js';
import type { LoadTrace } from '../load-trace.js';
import { PNPM_WORKSPACE } from './manager.js';
import { isRecord, parseYamlData } from './yaml-data.js';

/** A workspace's package globs (`!` excludes) and where each is written. */
export interface WorkspaceGlobs {
  globs: string[];
  posOf(glob: string): SourcePos;
}

/**
 * The `packages:` globs of pnpm-workspace.yaml (`!` excludes), each with
 * where it is written: pnpm ignores package.json `workspaces`, so this file
 * is the list. Its text goes into `trace`; a missing file, YAML errors or a
 * `packages` that is not a list of globs are located diagnostics and give
 * undefined.
 */
export function readPnpmWorkspaceGlobs(
  root: string,
  diagnostics: Diagnostic[],
  trace: LoadTrace,
): WorkspaceGlobs | undefined {
  const read = readText(path.join(root, PNPM_WORKSPACE));
  if ('error' in read) {
    diagnostics.push({ message: `cannot read ${PNPM_WORKSPACE}: ${read.error}`, hint: 'a pnpm workspace lists its packages in pnpm-workspace.yaml, e.g. packages: ["packages/*"]' });
    return undefined;
  }
  trace.texts.set(PNPM_WORKSPACE, read.text);
  const yaml = parseYamlData(PNPM_WORKSPACE, read.text, diagnostics);
  if (!yaml) return undefined;
  const list = isRecord(yaml.data) ? yaml.data.packages : undefined;
  if (!Array.isArray(list) || list.length === 0 || !list.every((g): g is string => typeof g === 'string' && g !== '')) {
    diagnostics.push(located(yaml.posOf(['packages']), "expected 'packages' to be a list of globs", 'e.g. packages: ["packages/*", "!**/test/**"]'));
    return undefined;
  }
  return { globs: list, posOf: (glob) => yaml.posOf(['packages', String(list.indexOf(glob))]) };
}
