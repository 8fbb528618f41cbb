import fs from 'node:fs';
import path from 'node:path';
import { within } from '../buildfile/paths.js';
import type { Workspace } from '../buildfile/types.js';
import { didYouMean, UserError, type Diagnostic } from '../diagnostic.js';
import { STATE_DIR } from '../state/state-dir.js';
import { selectTargets } from '../graph/targets.js';
import { DEFAULT_RUNS, isScenarioKind, SCENARIO_KINDS, type Located, type Scenario } from '../buildfile/scenario.js';
import { untouchable } from './touch.js';

/** Scenario choices from the command line. */
export interface BenchFlags {
  /** --scenario: names of the bench: block's scenarios, or kinds for scenarios defined by flags. */
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
 * The scenarios to run. `--scenario NAME` picks a scenario of the `bench:`
 * block by name, or else defines one of that kind; `--touch` alone defines
 * an `incremental` one. Without either: every scenario of the block, or
 * `cold` and `noop` when there is none. Positional targets apply to the
 * scenarios that do not name their own. Every mistake (an unknown scenario,
 * a target matching nothing, a file that cannot be touched, a remote
 * scenario without a remote) is reported before anything runs.
 */
export function planScenarios(ws: Workspace, flags: BenchFlags, env: NodeJS.ProcessEnv): PlannedScenario[] {
  const diagnostics: Diagnostic[] = [];
  const declared = ws.bench?.scenarios ?? [];
  const runsOf = (own?: number) => flags.runs ?? own ?? ws.bench?.runs ?? DEFAULT_RUNS;
  const targets = flags.targets.map((value) => ({ value }));
  const touch = flags.touch.map((f) => ({ value: workspacePath(ws.root, path.resolve(flags.cwd, f)) ?? f }));
  const names =
    flags.scenarios.length > 0
      ? [...new Set(flags.scenarios)]
      : flags.touch.length > 0
        ? ['incremental']
        : declared.length > 0
          ? declared.map((d) => d.name)
          : ['cold', 'noop'];
  const scenarios: Scenario[] = [];
  for (const name of names) {
    const decl = declared.find((d) => d.name === name);
    if (decl) {
      scenarios.push({ ...decl, targets: decl.targets.length > 0 ? decl.targets : targets, runs: runsOf(decl.runs) });
    } else if (isScenarioKind(name)) {
      scenarios.push({ name, kind: name, targets, touch: name === 'incremental' ? touch : [], runs: runsOf() });
    } else {
      const guess = didYouMean(name, [...declared.map((d) => d.name), ...SCENARIO_KINDS]);
      const known = declared.length > 0 ? `scenarios of kiln.yaml: ${declared.map((d) => d.name).join(', ')}; kinds: ` : 'a kind: ';
      diagnostics.push({ message: `bench: unknown scenario '${name}'`, hint: guess ? `did you mean '${guess}'?` : `${known}${SCENARIO_KINDS.join(', ')}` });
    }
  }
  if (flags.touch.length > 0 && !scenarios.some((s) => s.kind === 'incremental' && s.pos === undefined)) {
    diagnostics.push({ message: 'bench: --touch is for an incremental scenario given by flags', hint: 'add --scenario incremental' });
  }
  const planned = scenarios.map((scenario) => ({ scenario, selected: checkScenario(ws, scenario, env, diagnostics) }));
  if (diagnostics.length > 0) throw new UserError(byPosition(diagnostics));
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
  return within(root, abs) || undefined;
}

/** Mistakes in kiln.yaml in file order, after those on the command line (a stable sort keeps their order). */
function byPosition(diagnostics: Diagnostic[]): Diagnostic[] {
  const rank = (d: Diagnostic) => (d.pos ? d.pos.line * 1e6 + d.pos.column : -1);
  return [...diagnostics].sort((a, b) => rank(a) - rank(b));
}
