import picomatch from 'picomatch';
import { isWithin } from '../../engine/buildfile/paths.js';

type Matcher = (rel: string) => boolean;

/**
 * A node's declared outputs, relative to its dir: plain paths (a file, or a
 * directory with everything in it) and globs as turbo writes them
 * (`dist/**`, `*.tsbuildinfo`), a leading `!` excluding what earlier ones
 * matched (`!.next/cache/**`).
 */
export class OutputSpec {
  private static readonly memo = new Map<string, OutputSpec>();

  /** Plain paths: replaced whole on restore and removed whole before a run. */
  readonly plain: string[];
  /** Static bases of the include globs ('dist' for 'dist/**', '' for '*.tsbuildinfo'): where glob outputs are looked for. */
  readonly globBases: string[];
  /** The glob bases no plain path already covers: what removing or stamping the glob outputs walks. */
  readonly globOnlyBases: string[];
  /** Dirs that hold nothing but products: plain paths and the bases of `dir/**` globs (excluded parts included, e.g. .next/cache). */
  readonly productDirs: string[];
  private readonly include: Matcher[];
  private readonly exclude: Matcher[];

  private constructor(declared: readonly string[]) {
    // `dist/**` with nothing excluded below dist means what the plain `dist` means: handled as one (removed and
    // restored whole, stamped with its dirs), which is what most turbo.json outputs are.
    const excludeBases = declared.filter((d) => d.startsWith('!')).map((d) => picomatch.scan(d.slice(1)).base);
    const wholeDir = (d: string) =>
      d.endsWith('/**') && !d.startsWith('!') && !isGlob(d.slice(0, -3)) && d.length > 3 &&
      !excludeBases.some((b) => b === '' || isWithin(b, d.slice(0, -3)) || d.slice(0, -3).startsWith(`${b}/`));
    const globs = declared.filter((d) => isGlob(d) && !wholeDir(d));
    this.plain = [...new Set(declared.filter((d) => !isGlob(d) || wholeDir(d)).map((d) => (wholeDir(d) ? d.slice(0, -3) : d)))];
    const includes = globs.filter((g) => !g.startsWith('!'));
    this.include = includes.map((g) => picomatch(g, { dot: true }));
    this.exclude = globs.filter((g) => g.startsWith('!')).map((g) => picomatch(g.slice(1), { dot: true }));
    this.globBases = [...new Set(includes.map((g) => picomatch.scan(g).base))];
    this.globOnlyBases = this.globBases.filter((b) => !this.plain.some((p) => isWithin(b, p)));
    const treeBases = includes.filter((g) => g.endsWith('/**') && !isGlob(g.slice(0, -3))).map((g) => g.slice(0, -3));
    this.productDirs = [...new Set([...this.plain, ...treeBases])];
  }

  /** The spec of a declared output list, compiled once per build (a thousand packages repeat a few lists). */
  static of(declared: readonly string[]): OutputSpec {
    const key = declared.join('\0');
    let spec = OutputSpec.memo.get(key);
    if (!spec) {
      spec = new OutputSpec(declared);
      OutputSpec.memo.set(key, spec);
    }
    return spec;
  }

  /** Whether `rel` is an output: under a plain path, or matched by an include glob and no exclude. */
  matches(rel: string): boolean {
    if (this.plain.some((p) => isWithin(rel, p))) return true;
    return this.include.some((m) => m(rel)) && !this.exclude.some((m) => m(rel));
  }

  /** Whether `rel` is something the node produces, cached or not: never its input, never an undeclared write. */
  isProduct(rel: string): boolean {
    return this.productDirs.some((d) => isWithin(rel, d)) || this.matches(rel);
  }
}

/**
 * Directory names that never hold a node's products, at any depth, and are
 * never looked into for them: package installs, kiln's state, VCS internals.
 */
export const NO_PRODUCT_DIRS: ReadonlySet<string> = new Set(['node_modules', '.kiln', '.git']);

/** Whether an output or input pattern is a glob (or a `!` exclusion) rather than a plain path. */
export function isGlob(pattern: string): boolean {
  return pattern.startsWith('!') || picomatch.scan(pattern).isGlob;
}
