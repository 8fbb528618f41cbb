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
 *   files ignore; package.json is one of them, so its edits rebuild.
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
  const targets = new Map<string, DepRef[]>();
  const inProgress = new Set<string>();
  /** The nodes a dependency on `script` of `pkg` stands for, at `pos`. */
  const targetsOf = (pkg: WorkspacePackage, script: string, pos: DepRef['pos']): DepRef[] => {
    const id = scriptNodeId(pkg.name, script);
    if (Object.hasOwn(pkg.scripts, script)) return [{ id, pos }];
    let refs = targets.get(id);
    if (!refs) {
      if (inProgress.has(id)) return []; // a cycle through packages without the script: nothing to order
      inProgress.add(id);
      refs = depsOf(pkg, script);
      inProgress.delete(id);
      targets.set(id, refs);
    }
    return refs;
  };
  const depsOf = (pkg: WorkspacePackage, script: string): DepRef[] => {
    const refs = new Map<string, DepRef>();
    for (const d of config.scripts.get(script)!.dependsOn) {
      if (d.upstream) {
        for (const dep of pkg.deps) {
          const target = dep.workspace !== undefined ? byName.get(dep.workspace) : undefined;
          if (!target || target === pkg) continue;
          const pos = jsonKeyPos(pkg.file, pkg.text, [dep.field, dep.name]);
          for (const ref of targetsOf(target, d.script, pos)) if (!refs.has(ref.id)) refs.set(ref.id, ref);
        }
      } else if (d.script !== script) {
        const pos = jsonKeyPos(pkg.file, pkg.text, ['scripts', script]);
        for (const ref of targetsOf(pkg, d.script, pos)) if (!refs.has(ref.id)) refs.set(ref.id, ref);
      }
    }
    return [...refs.values()];
  };

  const readGitignore = gitignoreReader(root, trace);
  const nodes: ParsedNode[] = [];
  for (const pkg of packages) {
    const scripts = [...config.scripts].filter(([script]) => Object.hasOwn(pkg.scripts, script));
    if (scripts.length === 0) continue;
    const id0 = scriptNodeId(pkg.name, scripts[0]![0]);
    if (!NODE_ID.test(id0)) {
      diagnostics.push(located(jsonKeyPos(pkg.file, pkg.text, ['name']), `package name '${pkg.name}' does not make a valid node id ('${id0}')`, 'npm package names are lower case letters, digits and - . _ with an optional @scope/'));
      continue;
    }
    const excludes = [
      'node_modules/**',
      ...scripts.flatMap(([, c]) => c.outputs.flatMap((o) => [o, `${o}/**`])),
      ...nestedPackages(pkg, packages).flatMap((d) => [d, `${d}/**`]),
      ...gitignoreExcludes(pkg.dir, readGitignore),
    ];
    for (const [script, c] of scripts) {
      const pos = jsonKeyPos(pkg.file, pkg.text, ['scripts', script]);
      const inputs: InputPattern[] = [{ glob: '**', required: false, pos }, ...[...new Set(excludes)].map((g) => ({ glob: `!${g}`, required: false, pos }))];
      nodes.push({
        decl: {
          id: scriptNodeId(pkg.name, script),
          rule: 'npm-script',
          dir: pkg.dir,
          deps: depsOf(pkg, script),
          inputs,
          outputs: c.outputs,
          env: [],
          secretEnv: [],
          toolchain: [],
          uses: [],
          attrs: { package: pkg.name, version: pkg.version, script, steps: lifecycle(pkg, script) },
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
