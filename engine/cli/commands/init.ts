import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../../diagnostic.js';
import { parseCommand, resolveNpmRoot } from '../args.js';
import { STATE_DIR } from '../../state/state-dir.js';
import { BUILD_FILE } from '../../workspace-root.js';
import { outputGlobsOf } from '../../keys/write-scan.js';

const USAGE = `usage: kiln init [--force]

Writes a kiln.yaml for the npm, pnpm or yarn workspace around the current
dir: the package.json scripts to build, each after what it depends on, and
the outputs each package's scripts wrote in the last build there (a
'kiln build' without a kiln.yaml records them), with comments. Where a
turbo.json configures the tasks, kiln needs no kiln.yaml: init says so and
writes nothing.

  --force   overwrite an existing kiln.yaml`;

/** Scripts init imports when some package has them, in this order; what turbo repos commonly run. */
const COMMON_SCRIPTS = ['build', 'test', 'lint', 'typecheck', 'check'];

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommand('init', argv, { force: { type: 'boolean' } }, USAGE);
  const rootFile = resolveNpmRoot();
  const root = path.dirname(rootFile);
  const target = path.join(root, BUILD_FILE);
  const turbo = ['turbo.json', 'turbo.jsonc'].find((f) => fs.existsSync(path.join(root, f)));
  if (turbo) {
    process.stdout.write(`kiln: ${turbo} configures the tasks here: 'kiln build' runs them as turbo would, no kiln.yaml needed (write one only to override per package: see BUILD.md)\n`);
    return 0;
  }
  if (fs.existsSync(target) && !values.force) {
    throw new UserError([{ message: `${BUILD_FILE} exists in ${root}`, hint: 'kiln init --force overwrites it' }]);
  }
  const [{ readWorkspace }] = await Promise.all([import('../../buildfile/npm/packages.js')]);
  const diagnostics: import('../../diagnostic.js').Diagnostic[] = [];
  const workspace = readWorkspace(root, diagnostics, { texts: new Map(), globs: [], absent: [], dirs: [] });
  if (!workspace || diagnostics.length > 0) throw new UserError(diagnostics, 2);
  const written = fs.existsSync(path.join(root, STATE_DIR, 'state.db')) ? await recordedWrites(root) : undefined;
  const text = buildFileText(root, workspace.packageManager, workspace.packages, written);
  fs.writeFileSync(target, text);
  process.stdout.write(`kiln: wrote ${path.relative(process.cwd(), target) || BUILD_FILE}\n`);
  return 0;
}

/** Node id → paths its last build created without declaring them (engine/write-scan.ts). */
async function recordedWrites(root: string): Promise<Map<string, string[]>> {
  const [{ openStateDb }, { NodeStates }] = await Promise.all([import('../../state/state-db.js'), import('../../state/node-states.js')]);
  const db = openStateDb(root);
  try {
    return new Map([...new NodeStates(db).load()].map(([id, s]) => [id, s.written]));
  } finally {
    db.close();
  }
}

interface Pkg {
  name: string;
  /** Workspace-relative. */
  dir: string;
  scripts: Record<string, string>;
}

/**
 * The kiln.yaml text: `import: npm-workspaces` with the `build` script
 * (what `kiln build` ran without a kiln.yaml, so writing the file changes
 * what is built only by the outputs it declares) and the other common
 * scripts as comments to enable; per script, the outputs most packages
 * wrote, other packages' own under `packages:`.
 */
export function buildFileText(root: string, manager: string, packages: Pkg[], written: Map<string, string[]> | undefined): string {
  const scripts = COMMON_SCRIPTS.filter((s) => packages.some((p) => Object.hasOwn(p.scripts, s)));
  const lines = [
    `# kiln.yaml, written by 'kiln init' for this ${manager} workspace of ${packages.length} packages.`,
    '# Each package.json script below becomes one node per package that has it',
    "# (`pkg#script`), keyed on the package's files, its workspace dependencies and",
    '# its locked external dependencies; see BUILD.md, "import: npm-workspaces".',
    written
      ? '# Outputs are what each script wrote in the last build here; cached outputs are'
      : "# No build is recorded here yet: run 'kiln build', then 'kiln init --force' to",
    written ? '# restored from the cache, and dependents of unchanged outputs are not rebuilt.' : '# fill in the outputs each package writes (until then, what a script creates is cached anyway).',
    'import:',
    '  npm-workspaces:',
    '    scripts:',
  ];
  const overrides = new Map<string, string[]>();
  for (const script of scripts) {
    const having = packages.filter((p) => Object.hasOwn(p.scripts, script));
    const afterBuild = script === 'test' && scripts.includes('build');
    const what = `${having.length} packages; ${afterBuild ? "after the package's own build" : `after the ${script} of the workspace packages each depends on`}`;
    if (script !== 'build') {
      lines.push(`      # ${script}: {${afterBuild ? 'dependsOn: [build]' : ''}}   # ${what}: uncomment to run it with kiln build`);
      continue;
    }
    lines.push(`      ${script}:   # ${what}`);
    // Only packages whose node has a recorded build: one never built says nothing about its outputs.
    const outputs = having
      .filter((p) => written?.has(`${p.name}#${script}`))
      .map((p) => ({ p, globs: outputGlobsOf(path.join(root, p.dir), written!.get(`${p.name}#${script}`)!) }));
    const common = mostCommon(outputs.map((o) => o.globs));
    if (common && common.length > 0) lines.push(`        outputs: ${yamlList(common)}   # ${outputs.filter((o) => same(o.globs, common)).length} of ${having.length} packages`);
    for (const o of outputs) if (common && !same(o.globs, common)) overrides.set(o.p.name, [...(overrides.get(o.p.name) ?? []), `        ${script}: {outputs: ${yamlList(o.globs)}}`]);
  }
  if (overrides.size > 0) {
    lines.push('    packages:                   # where a package writes elsewhere');
    for (const [name, entries] of [...overrides].sort()) lines.push(`      ${JSON.stringify(name)}:`, ...entries);
  }
  return `${lines.join('\n')}\n`;
}

const same = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
const yamlList = (items: string[]) => `[${items.map((i) => JSON.stringify(i)).join(', ')}]`;

function mostCommon(lists: string[][]): string[] | undefined {
  const counts = new Map<string, { list: string[]; n: number }>();
  for (const list of lists) {
    const key = JSON.stringify(list);
    counts.set(key, { list, n: (counts.get(key)?.n ?? 0) + 1 });
  }
  return [...counts.values()].sort((a, b) => b.n - a.n)[0]?.list;
}
