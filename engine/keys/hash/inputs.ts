import fs from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import type { InputPattern, NodeDecl } from '../../buildfile/types.js';
import { OutputSpec } from '../../../cache/local/output-spec.js';
import { missingLine, stampUnchanged, statLine } from '../stamps.js';
import { RACY_MARGIN_MS } from '../stamps.js';
import type { StatCache } from './stat-cache.js';

/** Never inputs, never descended into: kiln's own state and VCS internals. */
const PRUNED_DIRS = new Set(['.kiln', '.git']);

export interface ExpandedInputs {
  /** Node-dir-relative posix path → content digest, sorted by path. */
  files: Record<string, string>;
  /** Required patterns that matched no file. */
  unmatched: InputPattern[];
  /**
   * Stat lines (see keys/stamps.ts) of every walked directory and matched
   * file: while they all stat the same, the matched set and its digests are
   * unchanged. Null when some path changed too recently to be trusted (racy).
   */
  stamp: string | null;
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
 * otherwise change its own key), nor are the paths its last run created
 * without declaring them (`written`, from its state: see write-scan.ts).
 */
export function expandInputs(root: string, node: NodeDecl, stats: StatCache, written: readonly string[] = []): ExpandedInputs {
  const positive = node.inputs.filter((p) => !p.glob.startsWith('!'));
  if (positive.length === 0) return { files: {}, unmatched: [], stamp: '' };
  const excluded = node.inputs.filter((p) => p.glob.startsWith('!')).map((p) => compiled(p.glob.slice(1)).match);
  const products = OutputSpec.of(written.length === 0 ? node.outputs : [...node.outputs, ...written]);
  const outputs = new Set(products.productDirs);
  const isExcluded = (rel: string) => products.isProduct(rel) || excluded.some((m) => m(rel));
  const cwd = path.join(root, node.dir);
  const found = new Set<string>();
  const unmatched: InputPattern[] = [];
  const stamp = new Stamp();
  for (const p of positive) {
    const { match, base, isGlob } = compiled(p.glob);
    let count = 0;
    const take = (rel: string) => {
      if (match(rel) && !isExcluded(rel)) {
        found.add(rel);
        count++;
      }
    };
    if (isGlob) walk(cwd, base, take, outputs, stamp);
    else if (isFile(path.join(cwd, base))) take(base);
    else stamp.add(base, statOrUndefined(path.join(cwd, base))); // a literal input that appears later must be seen
    if (count === 0 && p.required) unmatched.push(p);
  }
  const files: Record<string, string> = {};
  for (const rel of [...found].sort()) {
    const abs = path.join(cwd, rel);
    const st = fs.statSync(abs);
    stamp.add(rel, st);
    files[rel] = stats.digest(abs, path.posix.join(node.dir, rel), st);
  }
  return { files, unmatched, stamp: stamp.text() };
}

/**
 * Whether the inputs a stamp covers are unchanged (stats only): as
 * stampUnchanged, except that a directory which changed only by an output
 * or a pruned dir appearing or going (a deleted `dist/`) still counts as
 * unchanged. The outputs are those expandInputs leaves out.
 */
export function inputsUnchangedByStamp(nodeDirAbs: string, node: NodeDecl, stamp: string, written: readonly string[]): boolean {
  return stampUnchanged(nodeDirAbs, stamp, 'stat', () => {
    const products = OutputSpec.of(written.length === 0 ? node.outputs : [...node.outputs, ...written]);
    const outputs = new Set(products.productDirs);
    return (rel, name) => PRUNED_DIRS.has(name) || outputs.has(rel) || products.isProduct(rel);
  });
}

/** Collects stat lines, and whether any path changed within the racy margin of now. */
class Stamp {
  private readonly lines: string[] = [];
  private readonly trustedBefore = Date.now() - RACY_MARGIN_MS;
  private racy = false;

  add(rel: string, st: fs.Stats | undefined): void {
    if (!st) {
      this.lines.push(missingLine(rel));
      return;
    }
    if (st.mtimeMs >= this.trustedBefore || st.ctimeMs >= this.trustedBefore) this.racy = true;
    this.lines.push(statLine(rel, st));
  }

  text(): string | null {
    return this.racy ? null : this.lines.join('\n');
  }
}

/**
 * Calls `visit` with the node-dir-relative path of every file under `base`,
 * not entering pruned dirs or outputs. Each directory is stamped before it
 * is read, so an entry added meanwhile shows as a changed stamp next time.
 */
function walk(cwd: string, base: string, visit: (rel: string) => void, outputs: Set<string>, stamp: Stamp): void {
  const stack = [base];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    const abs = path.join(cwd, dir);
    const st = statOrUndefined(abs);
    stamp.add(dir, st);
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(abs, { withFileTypes: true });
    } catch {
      continue; // absent base (or not a directory): the pattern matches nothing
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
  return statOrUndefined(abs)?.isFile() ?? false;
}

function statOrUndefined(abs: string): fs.Stats | undefined {
  try {
    return fs.statSync(abs);
  } catch {
    return undefined;
  }
}
