// Driving the real kiln CLI (dist/cli/main.js) the way a user would,
// and refusing to time a build that did not do what the scenario says.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunSummary } from '../engine/pipeline/summary.js';
import { outputTail, run, start, type ProcResult, type Started } from '../engine/proc.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** The repo root, whether this module runs compiled (dist/bench/) or as source (bench/, as vitest loads it). */
export const REPO_ROOT = path.resolve(HERE, path.basename(path.dirname(HERE)) === 'dist' ? '../..' : '..');
export const KILN_MAIN = path.join(REPO_ROOT, 'dist/cli/main.js');

/** No build may take longer than this; a hang is a finding, not a reason to wait forever. */
const BUILD_TIMEOUT_MS = 15 * 60 * 1000;

/**
 * A plain, reproducible environment: CI=true for plain output, nothing from
 * the caller's shell leaking in (NODE_OPTIONS, NODE_EXTRA_CA_CERTS, ... change
 * node's startup time). Baselines in run.ts use it too.
 */
export function kilnEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', CI: 'true' };
}

export interface BuildTarget {
  /** Workspace root (holds kiln.yaml); kiln runs with it as cwd. */
  dir: string;
  cacheDir: string;
  /** Where --summary goes: outside the workspace, so no input glob can see it. */
  summaryFile: string;
  /** --jobs, when not kiln's default. */
  jobs?: number;
  /** Added to kilnEnv(), e.g. KILN_REMOTE_* for a remote cache. */
  env?: Record<string, string>;
  /** node's own flags before kiln's, e.g. --cpu-prof. */
  nodeArgs?: string[];
  /** More `kiln build` arguments, e.g. --npm build. */
  args?: string[];
}

export function buildArgs(t: BuildTarget): string[] {
  return [
    ...(t.nodeArgs ?? []),
    KILN_MAIN, 'build', '--logs', 'none', '--cache-dir', t.cacheDir, '--summary', t.summaryFile,
    ...(t.jobs ? ['--jobs', String(t.jobs)] : []),
    ...(t.args ?? []),
  ];
}

/** Starts `kiln build` in its own process group (for kill -9 of the group). */
export function startBuild(t: BuildTarget): Started {
  fs.rmSync(t.summaryFile, { force: true });
  return start(process.execPath, buildArgs(t), { cwd: t.dir, env: { ...kilnEnv(), ...t.env }, detached: true, timeoutMs: BUILD_TIMEOUT_MS });
}

export interface BuildRun {
  proc: ProcResult;
  summary: RunSummary;
}

/** Runs `kiln build` to completion; throws unless it exited 0 and wrote a summary. */
export async function build(t: BuildTarget, label: string): Promise<BuildRun> {
  const proc = await startBuild(t).done;
  return { proc, summary: checkedSummary(proc, t.summaryFile, label) };
}

/** The summary of a finished build, or an error explaining why the build is not usable. */
export function checkedSummary(proc: ProcResult, summaryFile: string, label: string): RunSummary {
  if (proc.timedOut) throw new Error(`${label}: kiln build timed out\n${outputTail(proc)}`);
  if (proc.code !== 0) throw new Error(`${label}: kiln build exited with ${proc.code ?? proc.signal}\n${outputTail(proc)}`);
  if (!fs.existsSync(summaryFile)) throw new Error(`${label}: kiln build wrote no summary\n${outputTail(proc)}`);
  return JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as RunSummary;
}

/**
 * Checks that exactly the nodes in `built` were built and every other node of
 * `ids` was cached ('any': each was built or cached). A benchmark that
 * silently times a failing or partial build measures nothing.
 */
export function expectStatuses(label: string, summary: RunSummary, ids: readonly string[], built: ReadonlySet<string> | 'any'): void {
  const byId = new Map(summary.nodes.map((n) => [n.id, n]));
  const problems: string[] = [];
  if (summary.nodes.length !== ids.length) problems.push(`summary has ${summary.nodes.length} nodes, the workspace ${ids.length}`);
  for (const id of ids) {
    const n = byId.get(id);
    const want = built === 'any' ? ['built', 'cached'] : [built.has(id) ? 'built' : 'cached'];
    if (!n) problems.push(`${id}: missing from the summary`);
    else if (!want.includes(n.status)) problems.push(`${id}: ${n.status}, expected ${want.join(' or ')}${n.error ? ` (${n.error})` : ''}`);
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 10).join('\n  ');
    throw new Error(`${label}: ${problems.length} unexpected node statuses:\n  ${shown}${problems.length > 10 ? '\n  ...' : ''}`);
  }
}

/** Checks that every node of the summary that was cached was restored from `source` (local cache or remote). */
export function expectCacheSource(label: string, summary: RunSummary, source: 'local' | 'remote'): void {
  const wrong = summary.nodes.filter((n) => n.status === 'cached' && n.cache !== source);
  if (wrong.length > 0) {
    throw new Error(`${label}: ${wrong.length} nodes restored from ${wrong[0]!.cache}, expected ${source}, e.g. ${wrong[0]!.id}`);
  }
}

/** `kiln ARGS` (no build), e.g. --version or cache verify. */
export function kiln(args: string[], cwd?: string): Promise<ProcResult> {
  return run(process.execPath, [KILN_MAIN, ...args], { ...(cwd ? { cwd } : {}), env: kilnEnv(), timeoutMs: BUILD_TIMEOUT_MS });
}

/** Fails early, with the fix, when dist/ has no compiled kiln. */
export function requireKiln(): void {
  if (!fs.existsSync(KILN_MAIN)) throw new Error(`${KILN_MAIN} not found: run 'npx tsc -p .' first`);
}
