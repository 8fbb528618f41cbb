import picomatch from 'picomatch';
import * as v from 'valibot';
import { isMap, isScalar } from 'yaml';
import type { Node as YamlNode, YAMLMap } from 'yaml';
import type { SourcePos } from '../../diagnostic.js';
import { escapes, isAbsolute, normalise } from '../paths.js';
import { locate } from '../rule-attrs.js';
import type { Entry, SourceFile } from '../source.js';

/** What one imported script's nodes depend on. */
export interface DependsOn {
  script: string;
  /** `^build`: the script of the package's workspace dependencies; `build`: the package's own. */
  upstream: boolean;
}

export interface ScriptConfig {
  dependsOn: DependsOn[];
  /** Paths relative to the package dir, normalised. */
  outputs: string[];
}

/** How to turn an npm workspace into nodes: which scripts, their deps and outputs. */
export interface NpmImport {
  scripts: Map<string, ScriptConfig>;
  /** Where it is declared: the `import` key, or the root package.json for `--npm`. */
  pos: SourcePos;
}

export const IMPORT_KIND = 'npm-workspaces';
/** npm script names that make readable node ids (`pkg#build:types`). */
export const SCRIPT_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
const DEPENDS_ON = /^\^?[A-Za-z0-9][A-Za-z0-9._:-]*$/;

/** `dist`, `./dist/` and turbo's `dist/**` all name the directory dist. */
export function outputPath(raw: string): string {
  return normalise(raw.endsWith('/**') ? raw.slice(0, -3) : raw);
}

/** Why an output path is unusable, or undefined. */
export function outputProblem(raw: string): string | undefined {
  const out = outputPath(raw);
  if (isAbsolute(raw) || escapes(out)) return `output '${raw}' is outside the package dir`;
  if (out === '') return `output '${raw}' is the package dir itself`;
  if (picomatch.scan(out).isGlob) return `output '${raw}' is a glob; outputs are files or directories (dist/** means dist)`;
  return undefined;
}

const OUTPUTS = v.array(
  v.pipe(
    v.string('expected an output path'),
    v.rawCheck(({ dataset, addIssue }) => {
      const problem = dataset.typed ? outputProblem(dataset.value) : undefined;
      if (problem) addIssue({ message: problem });
    }),
    v.transform(outputPath),
  ),
  'expected a list of output paths, e.g. [dist]',
);

const SCRIPT = v.nullish(
  v.strictObject(
    {
      dependsOn: v.optional(
        v.array(
          v.pipe(v.string(), v.regex(DEPENDS_ON, 'expected a script name, or ^name for that script of the workspace dependencies')),
          'expected a list like ["^build"]',
        ),
      ),
      outputs: v.optional(OUTPUTS),
    },
    'expected a mapping with keys dependsOn, outputs',
  ),
  {},
);

const NPM_WORKSPACES = v.nullish(
  v.strictObject(
    {
      outputs: v.optional(OUTPUTS, []),
      scripts: v.optional(
        v.record(v.pipe(v.string(), v.regex(SCRIPT_NAME, 'expected an npm script name (letters, digits and . _ : -)')), SCRIPT),
        { build: {} },
      ),
    },
    'expected a mapping with keys scripts, outputs',
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
    if (file.text(e.value) === IMPORT_KIND) return defaultImport(['build'], [], pos);
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
  const scripts = new Map<string, ScriptConfig>();
  let ok = true;
  for (const [name, config] of Object.entries(parsed.output.scripts)) {
    const dependsOn = (config.dependsOn ?? [`^${name}`]).map(parseDependsOn);
    dependsOn.forEach((d, i) => {
      if (parsed.output.scripts[d.script] !== undefined) return;
      ok = false;
      const at = (entry.value as YAMLMap).getIn(['scripts', name, 'dependsOn', i], true) as YamlNode | undefined;
      file.report(at ?? entry.keyNode, `script '${name}' depends on '${d.script}', which is not imported`, `add '${d.script}' to scripts`);
    });
    scripts.set(name, { dependsOn, outputs: config.outputs ?? parsed.output.outputs });
  }
  return ok ? { scripts, pos } : undefined;
}

/** `kiln build --npm build,test`: each script depends on itself upstream (`^build`), all share `outputs`. */
export function defaultImport(scriptNames: string[], outputs: string[], pos: SourcePos): NpmImport {
  return { scripts: new Map(scriptNames.map((s) => [s, { dependsOn: [{ script: s, upstream: true }], outputs }])), pos };
}

const parseDependsOn = (raw: string): DependsOn => (raw.startsWith('^') ? { script: raw.slice(1), upstream: true } : { script: raw, upstream: false });
