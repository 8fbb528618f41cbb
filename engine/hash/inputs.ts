import fs from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import type { InputPattern, NodeDecl } from '../buildfile/types.js';
import type { StatCache } from './stat-cache.js';

/** Never inputs, never descended into: kiln's own state and VCS internals. */
const PRUNED_DIRS = new Set(['.kiln', '.git']);

export interface ExpandedInputs {
  /** Node-dir-relative posix path → content digest, sorted by path. */
  files: Record<string, string>;
  /** Required patterns that matched no file. */
  unmatched: InputPattern[];
}

type Matcher = (p: string) => boolean;

/**
 * Compiled globs, shared by every node of a build: a workspace of a thousand
 * packages repeats the same few patterns ('src/**'), and compiling one costs
 * far more than matching with it.
 */
const matchers = new Map<string, { match: Matcher; base: string; isGlob: boolean }>();

function compiled(glob: string): { match: Matcher; base: string; isGlob: boolean } {
  let m = matchers.get(glob);
  if (!m) {
    const scan = picomatch.scan(glob);
    m = { match: picomatch(glob, { dot: true }), base: scan.isGlob ? scan.base : glob, isGlob: scan.isGlob };
    matchers.set(glob, m);
  }
  return m;
}

/**
 * Expands a node's input globs and digests every matched file. Each pattern
 * is walked from its static base only ('src' for 'src/**'). The node's own
 * outputs are never its inputs (a rule rewriting its outputs would
 * otherwise change its own key).
 */
export function expandInputs(root: string, node: NodeDecl, stats: StatCache): ExpandedInputs {
  const positive = node.inputs.filter((p) => !p.glob.startsWith('!'));
  if (positive.length === 0) return { files: {}, unmatched: [] };
  const excluded = node.inputs.filter((p) => p.glob.startsWith('!')).map((p) => compiled(p.glob.slice(1)).match);
  const outputs = new Set(node.outputs);
  const isExcluded = (rel: string) =>
    outputs.has(rel) || node.outputs.some((o) => rel.startsWith(`${o}/`)) || excluded.some((m) => m(rel));
  const cwd = path.join(root, node.dir);
  const found = new Set<string>();
  const unmatched: InputPattern[] = [];
  for (const p of positive) {
    const { match, base, isGlob } = compiled(p.glob);
    let count = 0;
    const take = (rel: string) => {
      if (match(rel) && !isExcluded(rel)) {
        found.add(rel);
        count++;
      }
    };
    if (isGlob) walk(cwd, base, take, outputs);
    else if (isFile(path.join(cwd, base))) take(base);
    if (count === 0 && p.required) unmatched.push(p);
  }
  const files: Record<string, string> = {};
  for (const rel of [...found].sort()) files[rel] = stats.digest(path.join(cwd, rel), path.posix.join(node.dir, rel));
  return { files, unmatched };
}

/** Calls `visit` with the node-dir-relative path of every file under `base`, not entering pruned dirs or outputs. */
function walk(cwd: string, base: string, visit: (rel: string) => void, outputs: Set<string>): void {
  const stack = [base];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(path.join(cwd, dir), { withFileTypes: true });
    } catch {
      continue; // absent base: the pattern matches nothing
    }
    for (const e of entries) {
      const rel = dir === '' ? e.name : `${dir}/${e.name}`;
      if (e.isDirectory()) {
        if (!PRUNED_DIRS.has(e.name) && !outputs.has(rel)) stack.push(rel);
      } else if (e.isFile() || (e.isSymbolicLink() && isFile(path.join(cwd, rel)))) {
        visit(rel);
      }
    }
  }
}

function isFile(abs: string): boolean {
  try {
    return fs.statSync(abs).isFile();
  } catch {
    return false;
  }
}
