import path from 'node:path';
import type { Diagnostic } from '../../diagnostic.js';
import type { NpmStep } from '../../../rules/npm-script.js';
import { located } from '../hint.js';
import type { LoadTrace } from '../load.js';
import { NODE_ID, type ParsedNode } from '../node.js';
import type { DepRef, InputPattern } from '../types.js';
import type { NpmImport } from './config.js';
import { gitignoreExcludes, gitignoreReader } from './gitignore.js';
import { jsonKeyPos } from './json-pos.js';
import { readWorkspace, type WorkspacePackage } from './packages.js';

/** The id of a package's script node, as Turborepo writes tasks: `@scope/pkg#build`. */
export const scriptNodeId = (pkg: string, script: string): string => `${pkg}#${script}`;

/**
 * Turns the packages of the npm, pnpm or yarn workspace at `root` into nodes, one per
 * package and imported script that the package has (packages without the
 * script get none, as in turbo):
 *
 * - deps: for `^build`, the `build` nodes of the package's workspace
 *   dependencies; for `build`, the package's own. A package lacking the
 *   script is passed through (its dependencies' nodes are used), so a chain
 *   of packages keeps its order when a middle one has nothing to build.
 * - inputs: every file of the package dir except node_modules, the outputs
 *   of its imported scripts, nested workspace packages and what .gitignore
 *   files ignore; package.json is one of them, so its edits rebuild. Also
 *   the files of every package passed through on the way to its deps: a
 *   `lint` that reads a shared config package without a lint script must
 *   rerun when that config changes (turbo misses this: vercel/turborepo#4041).
 * - attrs: the script, its pre/post scripts, the package's name and version
 *   (all in the key; see rules/npm-script.ts).
 */
export function importNpmWorkspace(root: string, config: NpmImport, diagnostics: Diagnostic[], trace: LoadTrace): ParsedNode[] {
  const packages = readWorkspace(root, diagnostics, trace)?.packages ?? [];
  const byName = new Map(packages.map((p) => [p.name, p]));
  for (const [script] of config.scripts) {
    if (!packages.some((p) => Object.hasOwn(p.scripts, script))) {
      diagnostics.push(located(config.pos, `no workspace package has a '${script}' script`, `scripts found: ${scriptNames(packages)}`));
    }
  }
  const targets = new Map<string, Targets>();
  const inProgress = new Set<string>();
  /** The nodes a dependency on `script` of `pkg` stands for, at `pos`, and the packages passed through to reach them. */
  const targetsOf = (pkg: WorkspacePackage, script: string, pos: DepRef['pos']): Targets => {
    const id = scriptNodeId(pkg.name, script);
    if (Object.hasOwn(pkg.scripts, script)) return { refs: [{ id, pos }], through: [] };
    let found = targets.get(id);
    if (!found) {
      if (inProgress.has(id)) return { refs: [], through: [pkg] }; // a cycle through packages without the script: nothing to order
      inProgress.add(id);
      const deps = depsOf(pkg, script);
      found = { refs: deps.refs, through: [pkg, ...deps.through.filter((p) => p !== pkg)] };
      inProgress.delete(id);
      targets.set(id, found);
    }
    return found;
  };
  const depsOf = (pkg: WorkspacePackage, script: string): Targets => {
    const refs = new Map<string, DepRef>();
    const through = new Set<WorkspacePackage>();
    const add = (t: Targets) => {
      for (const ref of t.refs) if (!refs.has(ref.id)) refs.set(ref.id, ref);
      for (const p of t.through) through.add(p);
    };
    for (const d of config.scripts.get(script)!.dependsOn) {
      if (d.upstream) {
        for (const dep of pkg.deps) {
          const target = dep.workspace !== undefined ? byName.get(dep.workspace) : undefined;
          if (!target || target === pkg) continue;
          add(targetsOf(target, d.script, jsonKeyPos(pkg.file, pkg.text, [dep.field, dep.name])));
        }
      } else if (d.script !== script) {
        add(targetsOf(pkg, d.script, jsonKeyPos(pkg.file, pkg.text, ['scripts', script])));
      }
    }
    return { refs: [...refs.values()], through: [...through].filter((p) => p !== pkg) };
  };

  const readGitignore = gitignoreReader(root, trace);
  /** What of a package dir is not its content: installs, its scripts' outputs, nested packages, what git ignores. */
  const packageExcludes = (p: WorkspacePackage): string[] => {
    const outputs = [...config.scripts].filter(([script]) => Object.hasOwn(p.scripts, script)).flatMap(([, c]) => c.outputs);
    return [
      ...new Set([
        'node_modules/**',
        ...outputs.flatMap((o) => [o, `${o}/**`]),
        ...nestedPackages(p, packages).flatMap((d) => [d, `${d}/**`]),
        ...gitignoreExcludes(p.dir, readGitignore),
      ]),
    ];
  };
  const nodes: ParsedNode[] = [];
  for (const pkg of packages) {
    const scripts = [...config.scripts].filter(([script]) => Object.hasOwn(pkg.scripts, script));
    if (scripts.length === 0) continue;
    const id0 = scriptNodeId(pkg.name, scripts[0]![0]);
    if (!NODE_ID.test(id0)) {
      diagnostics.push(located(jsonKeyPos(pkg.file, pkg.text, ['name']), `package name '${pkg.name}' does not make a valid node id ('${id0}')`, 'npm package names are lower case letters, digits and - . _ with an optional @scope/'));
      continue;
    }
    const nested = nestedPackages(pkg, packages);
    for (const [script, c] of scripts) {
      const pos = jsonKeyPos(pkg.file, pkg.text, ['scripts', script]);
      const deps = depsOf(pkg, script);
      const inputs: InputPattern[] = [pkg, ...deps.through].flatMap((p) => {
        // Paths of a passed-through package are written from this package's dir: '../config/**'.
        const prefix = p === pkg ? '' : `${path.posix.relative(pkg.dir, p.dir)}/`;
        return [`${prefix}**`, ...packageExcludes(p).map((g) => `!${prefix}${g}`)].map((glob) => ({ glob, required: false, pos }));
      });
      nodes.push({
        decl: {
          id: scriptNodeId(pkg.name, script),
          rule: 'npm-script',
          dir: pkg.dir,
          deps: deps.refs,
          inputs,
          outputs: c.outputs,
          env: [],
          secretEnv: [],
          toolchain: [],
          uses: [],
          attrs: { package: pkg.name, version: pkg.version, script, steps: lifecycle(pkg, script) },
          writeScan: { skip: nested, siblings: scripts.filter(([other]) => other !== script).map(([other]) => scriptNodeId(pkg.name, other)) },
          pos,
          fieldPos: {},
        },
        outputPos: c.outputs.map(() => config.pos),
        toolchainPos: [],
      });
    }
  }
  return nodes;
}

/** The nodes a dependency stands for, and the packages without the script passed through to reach them. */
interface Targets {
  refs: DepRef[];
  through: WorkspacePackage[];
}

/** What `npm run SCRIPT` runs: `preSCRIPT`, `SCRIPT`, `postSCRIPT`, those present. */
function lifecycle(pkg: WorkspacePackage, script: string): NpmStep[] {
  return [`pre${script}`, script, `post${script}`].filter((event) => Object.hasOwn(pkg.scripts, event)).map((event) => ({ event, cmd: pkg.scripts[event]! }));
}

/** Dirs of workspace packages inside this one, relative to it: their files are theirs, not its inputs. */
function nestedPackages(pkg: WorkspacePackage, packages: WorkspacePackage[]): string[] {
  const prefix = `${pkg.dir}/`;
  return packages.filter((p) => p.dir.startsWith(prefix)).map((p) => p.dir.slice(prefix.length));
}

function scriptNames(packages: WorkspacePackage[]): string {
  const names = [...new Set(packages.flatMap((p) => Object.keys(p.scripts)))].sort();
  return names.length > 0 ? names.join(', ') : 'none';
}
