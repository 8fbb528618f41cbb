import * as v from 'valibot';
import { isMap, isScalar } from '../yaml/tree.js';
import type { SourcePos } from '../../diagnostic.js';
import { locate } from '../rule-attrs.js';
import type { Entry, SourceFile } from '../source.js';
import type { TaskRef } from './turbo-task.js';
import type { Diagnostic } from '../../diagnostic.js';
import { located } from '../hint.js';
import type { WorkspacePackage } from './packages.js';
import { plainTask, type TaskDef, type TaskSource } from './tasks.js';
import { outputPath, outputProblem, SCRIPT_NAME } from './script-outputs.js';

/** Fields of one script's settings in `import: npm-workspaces`; each present one replaces what turbo.json or the defaults say. */
export interface ScriptConfig {
  dependsOn?: TaskRef[];
  /** Package-relative paths and globs, normalised. */
  outputs?: string[];
  inputs?: string[];
  env?: string[];
  passThroughEnv?: string[];
  cache?: boolean;
}

/** How to turn a JS workspace into nodes: the `import:` block of kiln.yaml. */
export interface NpmImport {
  /** The scripts written under `scripts:`, with their settings; empty when the key is absent. */
  scripts: Map<string, ScriptConfig>;
  /** Per package name, per script: settings over the scripts' own. */
  packages: Map<string, Map<string, ScriptConfig>>;
  /** Every script's outputs, unless it says otherwise. */
  outputs?: string[];
  strictOutputs: boolean;
  /** Where it is declared: the `import` key. */
  pos: SourcePos;
}

export const IMPORT_KIND = 'npm-workspaces';
const DEPENDS_ON = /^\^?[A-Za-z0-9@][A-Za-z0-9@/._:#-]*$/;

const OUTPUTS = v.array(
  v.pipe(
    v.string('expected an output path or glob'),
    v.rawCheck(({ dataset, addIssue }) => {
      const problem = dataset.typed ? outputProblem(dataset.value) : undefined;
      if (problem) addIssue({ message: problem });
    }),
    v.transform(outputPath),
  ),
  'expected a list of output paths or globs, e.g. ["dist/**"]',
);
const GLOBS = v.array(v.pipe(v.string(), v.minLength(1)), 'expected a list of globs, e.g. ["src/**"]');
const ENV = v.array(v.pipe(v.string(), v.regex(/^!?[A-Za-z_*][A-Za-z0-9_*]*$/, 'expected an env var name or a NAME_* pattern')), 'expected a list of env var names');

const SCRIPT = v.nullish(
  v.strictObject(
    {
      dependsOn: v.optional(
        v.array(
          v.pipe(v.string(), v.regex(DEPENDS_ON, 'expected a script name, ^name for that script of the workspace dependencies, or pkg#name')),
          'expected a list like ["^build"]',
        ),
      ),
      outputs: v.optional(OUTPUTS),
      inputs: v.optional(GLOBS),
      env: v.optional(ENV),
      passThroughEnv: v.optional(ENV),
      cache: v.optional(v.boolean()),
    },
    'expected a mapping with keys dependsOn, outputs, inputs, env, passThroughEnv, cache',
  ),
  {},
);
const SCRIPTS = v.record(v.pipe(v.string(), v.regex(SCRIPT_NAME, 'expected an npm script name (letters, digits and . _ : -)')), SCRIPT);

const NPM_WORKSPACES = v.nullish(
  v.strictObject(
    {
      outputs: v.optional(OUTPUTS),
      strictOutputs: v.optional(v.boolean(), false),
      scripts: v.optional(SCRIPTS),
      packages: v.optional(v.record(v.pipe(v.string(), v.minLength(1)), SCRIPTS)),
    },
    'expected a mapping with keys scripts, outputs, packages, strictOutputs',
  ),
  {},
);

/**
 * The root build file's `import:`: either `import: npm-workspaces` (the
 * `build` script, turbo's `dependsOn: ["^build"]`, no outputs) or
 *
 *     import:
 *       npm-workspaces:
 *         outputs: [dist]              # every script's, unless it says otherwise
 *         scripts:
 *           build: {}                  # dependsOn defaults to ["^build"]
 *           test: {dependsOn: [build], outputs: []}
 */
export function readImport(file: SourceFile, e: Entry): NpmImport | undefined {
  const pos = file.pos(e.keyNode);
  const hint = `write \`import: ${IMPORT_KIND}\` or \`import: {${IMPORT_KIND}: {scripts: {build: {}}}}\``;
  if (isScalar(e.value)) {
    if (file.text(e.value) === IMPORT_KIND) return { scripts: new Map(), packages: new Map(), strictOutputs: false, pos };
    file.report(e.at, `unknown import '${file.text(e.value) ?? String(e.value.value)}'`, `the one importer is ${IMPORT_KIND}; ${hint}`);
    return undefined;
  }
  const kinds = isMap(e.value) ? file.uniqueEntries(e.value) : [];
  const entry = kinds.find((k) => k.key === IMPORT_KIND);
  for (const k of kinds) if (k !== entry) file.report(k.keyNode, `unknown import '${k.key}'`, `the one importer is ${IMPORT_KIND}`);
  if (!entry) {
    if (kinds.length === 0) file.report(e.at, 'expected an importer', hint);
    return undefined;
  }
  const plain = entry.value ? file.toPlain(entry.value) : { ok: true as const, value: null };
  if (!plain.ok) return undefined;
  const parsed = v.safeParse(NPM_WORKSPACES, plain.value);
  if (!parsed.success) {
    for (const issue of parsed.issues) {
      const { at, label } = locate(file, entry, issue.path ?? []);
      file.report(at, `${label}: ${issue.message}`);
    }
    return undefined;
  }
  const out = parsed.output;
  const toConfig = (c: v.InferOutput<typeof SCRIPT>, path: (string | number)[]): ScriptConfig => {
    const config: ScriptConfig = {};
    if (c?.dependsOn) {
      config.dependsOn = c.dependsOn.map((raw, i) => {
        const at = file.descend(entry.value, [...path, 'dependsOn', i]);
        return parseDependsOn(raw, file.pos(at ?? entry.keyNode));
      });
    }
    for (const key of ['outputs', 'inputs', 'env', 'passThroughEnv', 'cache'] as const) if (c?.[key] !== undefined) (config[key] as unknown) = c[key];
    return config;
  };
  const scripts = new Map(Object.entries(out.scripts ?? {}).map(([name, c]) => [name, toConfig(c, ['scripts', name])]));
  const packages = new Map(
    Object.entries(out.packages ?? {}).map(([pkg, perScript]) => [
      pkg,
      new Map(Object.entries(perScript).map(([name, c]) => [name, toConfig(c, ['packages', pkg, name])])),
    ]),
  );
  return { scripts, packages, ...(out.outputs ? { outputs: out.outputs } : {}), strictOutputs: out.strictOutputs, pos };
}

/** `^build`, `build`, `web#build`, as turbo reads dependsOn. */
function parseDependsOn(raw: string, pos: SourcePos): TaskRef {
  if (raw.startsWith('^')) return { kind: 'upstream', task: raw.slice(1), pos };
  const hash = raw.lastIndexOf('#');
  return hash > 0 ? { kind: 'package', pkg: raw.slice(0, hash), task: raw.slice(hash + 1), pos } : { kind: 'self', task: raw, pos };
}

/**
 * The tasks kiln.yaml's `import:` asks for, over `base` (turbo.json's, when
 * the repository has one): `scripts:` names the tasks (else turbo's, else
 * `build`), and each field written under a script, or under a package's
 * script, replaces what turbo.json says. Without turbo.json a script not
 * written under `scripts:` is not imported, and depending on one is an error.
 */
export function importSource(config: NpmImport, base: TaskSource | undefined, diagnostics: Diagnostic[]): TaskSource {
  const requested = config.scripts.size > 0 ? [...config.scripts.keys()] : (base?.requested ?? ['build']);
  if (!base) {
    for (const [name, script] of config.scripts) {
      for (const d of script.dependsOn ?? []) {
        if (!config.scripts.has(d.task)) diagnostics.push(located(d.pos, `script '${name}' depends on '${d.task}', which is not imported`, `add '${d.task}' to scripts`));
      }
    }
  }
  const memo = new Map<string, TaskDef | undefined>();
  const define = (pkg: WorkspacePackage, task: string): TaskDef | undefined => {
    const own = config.scripts.get(task);
    const start = base?.definition(pkg, task) ?? (own || (!base && config.scripts.size === 0 && task === 'build') ? plainTask(task, [], config.pos) : undefined);
    if (!start) return undefined;
    let def: TaskDef = config.outputs && !base ? { ...start, outputs: config.outputs } : start;
    for (const over of [own, config.packages.get(pkg.name)?.get(task)]) {
      if (!over) continue;
      def = {
        ...def,
        ...(over.dependsOn ? { dependsOn: over.dependsOn } : {}),
        ...(over.outputs ? { outputs: over.outputs } : {}),
        ...(over.inputs ? { inputs: { default: over.inputs.includes('$TURBO_DEFAULT$'), globs: over.inputs.filter((g) => g !== '$TURBO_DEFAULT$') } } : {}),
        ...(over.env ? { env: over.env } : {}),
        ...(over.passThroughEnv ? { passThroughEnv: over.passThroughEnv } : {}),
        ...(over.cache !== undefined ? { cache: over.cache } : {}),
      };
    }
    return def;
  };
  return {
    requested,
    definition(pkg, task) {
      const key = `${pkg.name}#${task}`;
      if (!memo.has(key)) memo.set(key, define(pkg, task));
      return memo.get(key);
    },
    globalInputs: base?.globalInputs ?? [],
    globalEnv: base?.globalEnv ?? [],
    globalPassThroughEnv: base?.globalPassThroughEnv ?? [],
    strictOutputs: config.strictOutputs,
    pos: config.pos,
    declareIn: `outputs: under import: npm-workspaces in ${config.pos.file}`,
    warnings: base?.warnings ?? [],
  };
}
