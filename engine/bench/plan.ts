import fs from 'node:fs';
import path from 'node:path';
import type { Workspace } from '../buildfile/types.js';
import { didYouMean, UserError, type Diagnostic } from '../diagnostic.js';
import { STATE_DIR } from '../state-db.js';
import { selectTargets } from '../targets.js';
import { DEFAULT_RUNS, isScenarioKind, SCENARIO_KINDS, type Located, type Scenario } from './scenario.js';
import { untouchable } from './touch.js';

/** Scenario choices from the command line. */
export interface BenchFlags {
  /** --scenario: kinds, for scenarios defined by flags. */
  scenarios: string[];
  /** --touch, relative to `cwd`. */
  touch: string[];
  /** --runs. */
  runs?: number;
  /** Positional targets. */
  targets: string[];
  cwd: string;
}

export interface PlannedScenario {
  scenario: Scenario;
  /** The scenario's nodes: its targets and their deps. */
  selected: Set<string>;
}

/**
 * The scenarios to run: `--scenario KIND` ones, an `incremental` one when
 * only --touch is given, or by default `cold` and `noop` over the targets.
 * Every mistake (an unknown scenario, a target matching nothing, a file that
 * cannot be touched, a remote scenario without a remote) is reported before
 * anything runs.
 */
export function planScenarios(ws: Workspace, flags: BenchFlags, env: NodeJS.ProcessEnv): PlannedScenario[] {
  const diagnostics: Diagnostic[] = [];
  const targets = flags.targets.map((value) => ({ value }));
  const touch = flags.touch.map((f) => ({ value: workspacePath(ws.root, path.resolve(flags.cwd, f)) ?? f }));
  const kinds = flags.scenarios.length > 0 ? [...new Set(flags.scenarios)] : flags.touch.length > 0 ? ['incremental'] : ['cold', 'noop'];
  const scenarios: Scenario[] = [];
  for (const name of kinds) {
    if (!isScenarioKind(name)) {
      const guess = didYouMean(name, SCENARIO_KINDS);
      diagnostics.push({ message: `bench: unknown scenario '${name}'`, hint: guess ? `did you mean '${guess}'?` : `a kind: ${SCENARIO_KINDS.join(', ')}` });
      continue;
    }
    scenarios.push({ name, kind: name, targets, touch: name === 'incremental' ? touch : [], runs: flags.runs ?? DEFAULT_RUNS });
  }
  if (flags.touch.length > 0 && !scenarios.some((s) => s.kind === 'incremental')) {
    diagnostics.push({ message: 'bench: --touch is for an incremental scenario', hint: 'add --scenario incremental' });
  }
  const planned = scenarios.map((scenario) => ({ scenario, selected: checkScenario(ws, scenario, env, diagnostics) }));
  if (diagnostics.length > 0) throw new UserError(diagnostics);
  return planned;
}

/** Checks a scenario against the workspace; returns its selected nodes. */
function checkScenario(ws: Workspace, s: Scenario, env: NodeJS.ProcessEnv, diagnostics: Diagnostic[]): Set<string> {
  const where = (pos: Located<unknown>['pos']) => (pos ? { pos } : {});
  const selected = new Set<string>();
  for (const t of s.targets.length > 0 ? s.targets : [undefined]) {
    const r = selectTargets(ws, t ? [t.value] : []);
    if (r.ok) for (const id of r.value) selected.add(id);
    else diagnostics.push(...r.diagnostics.map((d) => ({ ...d, message: `scenario '${s.name}': ${d.message}`, ...where(t?.pos) })));
  }
  if (s.kind === 'incremental' && s.touch.length === 0) {
    diagnostics.push({
      message: `scenario '${s.name}' (incremental) has no files to touch`,
      hint: s.pos ? 'add `touch: [FILE, ...]`' : 'add --touch FILE',
      ...where(s.pos),
    });
  }
  for (const f of s.touch) {
    const problem = touchProblem(ws.root, f.value);
    if (problem) diagnostics.push({ message: `scenario '${s.name}': cannot touch '${f.value}': ${problem}`, ...where(f.pos) });
  }
  if (s.kind === 'remote' && !ws.remote && !env.KILN_REMOTE_CACHE) {
    diagnostics.push({
      message: `scenario '${s.name}' (remote) needs a remote cache, and none is configured`,
      hint: 'add a remote: block to kiln.yaml (see BUILD.md) or set KILN_REMOTE_CACHE',
      ...where(s.pos),
    });
  }
  return selected;
}

/** Why a workspace-relative file cannot be touched, if it cannot. */
function touchProblem(root: string, file: string): string | undefined {
  if (path.isAbsolute(file) || file.split('/').includes('..')) return 'it is outside the workspace';
  if (file.split('/')[0] === STATE_DIR) return "it is kiln's checkout state";
  const stat = fs.statSync(path.join(root, file), { throwIfNoEntry: false });
  if (!stat) return 'no such file';
  if (!stat.isFile()) return 'not a regular file';
  return untouchable(file);
}

/** A path relative to the workspace root (posix), or undefined when outside it. */
function workspacePath(root: string, abs: string): string | undefined {
  const rel = path.relative(root, abs);
  return rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? undefined : rel.split(path.sep).join('/');
}
