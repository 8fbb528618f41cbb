import { isMap, isScalar, isSeq } from './yaml/tree.js';
import type { YamlNode } from './yaml/tree.js';
import { isScenarioKind, parsePercent, SCENARIO_KINDS, type Located, type ScenarioKind } from './scenario.js';
import { suggest } from './hint.js';
import { escapes, isAbsolute, normalise } from './paths.js';
import type { Entry, SourceFile } from './source.js';
import type { BenchDecl, BenchScenarioDecl } from './types.js';
import { textList, type TextItem } from './values.js';

const BENCH_KEYS = ['runs', 'threshold', 'noiseMs', 'scenarios'];
const SCENARIO_KEYS = ['kind', 'targets', 'touch', 'runs'];
const SCENARIO_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * The root file's `bench:` block: `kiln bench` scenarios by name, and the
 * defaults of its runs and --compare threshold. Target patterns are matched
 * against nodes and touched files checked on disk when `kiln bench` runs.
 */
export function readBench(file: SourceFile, e: Entry): BenchDecl | undefined {
  if (!e.value || !isMap(e.value)) {
    file.report(e.at, 'expected a mapping with runs, threshold, scenarios', 'e.g. `bench: {runs: 5, scenarios: {noop: {kind: noop}}}`');
    return undefined;
  }
  const decl: BenchDecl = { scenarios: [], pos: file.pos(e.keyNode) };
  for (const f of file.uniqueEntries(e.value)) {
    if (f.key === 'runs') {
      const runs = positiveInt(file, f);
      if (runs !== undefined) decl.runs = runs;
    } else if (f.key === 'threshold') {
      const pct = parsePercent(file.text(f.value) ?? '');
      if (pct === undefined) file.report(f.at, 'expected a percentage', 'e.g. `threshold: 10%`');
      else decl.thresholdPct = pct;
    } else if (f.key === 'noiseMs') {
      const v = isScalar(f.value) ? f.value.value : undefined;
      if (typeof v !== 'number' || !(v >= 0)) file.report(f.at, 'expected milliseconds (a number >= 0)');
      else decl.noiseMs = v;
    } else if (f.key === 'scenarios') {
      decl.scenarios = readScenarios(file, f);
    } else {
      file.unknownKey(f, 'bench', BENCH_KEYS);
    }
  }
  return decl;
}

function readScenarios(file: SourceFile, e: Entry): BenchScenarioDecl[] {
  if (!e.value || !isMap(e.value)) {
    file.report(e.at, 'expected a mapping of scenario name to scenario', 'e.g. `scenarios: {noop: {kind: noop}}`');
    return [];
  }
  return file.uniqueEntries(e.value).flatMap((s) => readScenario(file, s) ?? []);
}

// Like the rest of a build file, a bench block with any mistake fails the load
// (every diagnostic at once), so what is returned after a report is never used.
function readScenario(file: SourceFile, e: Entry): BenchScenarioDecl | undefined {
  if (!SCENARIO_NAME.test(e.key)) {
    file.report(e.keyNode, `invalid scenario name '${e.key}'`, 'names start with a letter or digit, then letters, digits and . _ -');
  }
  if (!e.value || !isMap(e.value)) {
    file.report(e.at, `expected a mapping for scenario '${e.key}'`, `e.g. \`${e.key}: {kind: noop}\``);
    return undefined;
  }
  const decl: Omit<BenchScenarioDecl, 'kind'> & { kind?: ScenarioKind } = { name: e.key, targets: [], touch: [], pos: file.pos(e.keyNode) };
  let kindGiven = false;
  let touchAt: YamlNode | undefined;
  let touchItems = 0;
  for (const f of file.uniqueEntries(e.value)) {
    if (f.key === 'kind') {
      kindGiven = true;
      const kind = file.text(f.value);
      if (kind !== undefined && isScenarioKind(kind)) decl.kind = kind;
      else file.report(f.at, `unknown scenario kind${kind !== undefined ? ` '${kind}'` : ''}`, suggest(kind ?? '', SCENARIO_KINDS, `one of: ${SCENARIO_KINDS.join(', ')}`));
    } else if (f.key === 'targets') {
      decl.targets = located(file, textList(file, f, { list: 'a list of node ids or globs', item: 'a node id or glob' }));
    } else if (f.key === 'touch') {
      touchAt = f.keyNode;
      touchItems = isSeq(f.value) ? f.value.items.length : 1;
      decl.touch = located(file, textList(file, f, { list: 'a list of files', item: 'a file path', check: (p, at) => touchPath(file, p, at) }));
    } else if (f.key === 'runs') {
      const runs = positiveInt(file, f);
      if (runs !== undefined) decl.runs = runs;
    } else {
      file.unknownKey(f, `scenario '${e.key}'`, SCENARIO_KEYS);
    }
  }
  if (!kindGiven) file.report(e.keyNode, `scenario '${e.key}' needs a kind`, `one of: ${SCENARIO_KINDS.join(', ')}`);
  if (decl.kind === 'incremental' && touchItems === 0) {
    file.report(touchAt ?? e.keyNode, `scenario '${e.key}' (incremental) needs files to touch`, 'add `touch: [FILE, ...]` (paths relative to the workspace root)');
  }
  if (decl.kind !== undefined && decl.kind !== 'incremental' && touchAt) {
    file.report(touchAt, `touch is only for incremental scenarios, and '${e.key}' is ${decl.kind}`);
  }
  return decl.kind === undefined ? undefined : { ...decl, kind: decl.kind };
}

const located = (file: SourceFile, items: TextItem[]): Located<string>[] => items.map((t) => ({ value: t.value, pos: file.pos(t.at) }));

/** A file to touch, relative to the workspace root (the root file's dir), normalised. */
function touchPath(file: SourceFile, p: string, at: YamlNode): string | undefined {
  const n = normalise(p);
  if (isAbsolute(p) || escapes(n) || n === '') {
    file.report(at, `touch '${p}' is not a file inside the workspace`, 'paths are relative to the workspace root');
    return undefined;
  }
  return n;
}

function positiveInt(file: SourceFile, f: Entry): number | undefined {
  const v = isScalar(f.value) ? f.value.value : undefined;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 1) return v;
  file.report(f.at, 'expected a positive integer');
  return undefined;
}
