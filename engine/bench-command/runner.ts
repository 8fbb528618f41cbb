import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import type { Workspace } from '../buildfile/types.js';
import { cleanOutputs } from '../state/clean-outputs.js';
import { NodeStates } from '../state/node-states.js';
import { childBuild, type ChildOutcome } from './child-build.js';
import { scenarioResult, type Rep, type ScenarioResult } from './result.js';
import type { Scenario } from '../buildfile/scenario.js';
import { Toucher } from './touch.js';

export interface BenchContext {
  ws: Workspace;
  rootFile: string;
  /** The user's cache: noop and incremental builds use it, as the user's own builds do. */
  cacheDir: string;
  /** Extra flags for every build (-j N). */
  flags: string[];
  db: Database.Database;
  signal: AbortSignal;
  /** Scratch space of this bench: build summaries. */
  tmp: string;
  /** The bench's start (ISO), written into touched files so every bench changes keys anew. */
  startedAt: string;
  toucher: Toucher;
  /** A progress or warning line (stderr). */
  say(line: string): void;
}

/**
 * Runs one scenario: its preparation (untimed), then `runs` timed builds.
 * `selected` holds the scenario's nodes (targets and their deps).
 */
export async function runScenario(ctx: BenchContext, s: Scenario, selected: ReadonlySet<string>): Promise<ScenarioResult> {
  const targets = s.targets.map((t) => t.value);
  let n = 0;
  const build = (label: string, cacheDir: string, flags: string[] = []): Promise<ChildOutcome> =>
    childBuild(
      { rootFile: ctx.rootFile, targets, cacheDir, flags: [...flags, ...ctx.flags], summaryFile: path.join(ctx.tmp, 'summary.json'), signal: ctx.signal },
      ctx.db,
      `scenario '${s.name}' ${label}`,
    );
  const reps: Rep[] = [];
  const timed = async (cacheDir: string, flags: string[] = []): Promise<Rep> => {
    n++;
    const { wallMs, summary, runId } = await build(`run ${n}`, cacheDir, flags);
    const count = (status: string) => summary.nodes.filter((node) => node.status === status).length;
    const rep: Rep = { rep: n, runId, wallMs, built: count('built'), cached: count('cached') };
    reps.push(rep);
    ctx.say(`bench ${s.name} [${n}/${s.runs}]: ${wallMs.toFixed(0)} ms, ${rep.built} built, ${rep.cached} cached`);
    return rep;
  };
  /**
   * A cache dir that lives for one build: cold and remote builds start from
   * nothing. Beside the user's cache, not in /tmp: on the same file system
   * (a tmpfs would make storing blobs look cheaper than it is).
   */
  const withEmptyCache = async (work: (cacheDir: string) => Promise<Rep>): Promise<Rep> => {
    fs.mkdirSync(path.dirname(ctx.cacheDir), { recursive: true });
    const cacheDir = fs.mkdtempSync(path.join(path.dirname(ctx.cacheDir), `${path.basename(ctx.cacheDir)}-bench-`));
    try {
      cleanOutputs(ctx.ws, selected, new NodeStates(ctx.db));
      return await work(cacheDir);
    } finally {
      fs.rmSync(cacheDir, { recursive: true, force: true });
    }
  };
  const warmUp = () => {
    ctx.say(`bench ${s.name}: warm-up build (not timed)`);
    return build('warm-up', ctx.cacheDir);
  };

  switch (s.kind) {
    case 'cold':
      while (n < s.runs) await withEmptyCache((dir) => timed(dir, ['--no-remote']));
      break;
    case 'noop': {
      await warmUp();
      while (n < s.runs) {
        const rep = await timed(ctx.cacheDir);
        if (rep.built > 0) ctx.say(`kiln: warning: scenario '${s.name}' run ${rep.rep} built ${rep.built} nodes: not a no-op (does a node read a file it writes?)`);
      }
      break;
    }
    case 'incremental': {
      await warmUp();
      while (n < s.runs) {
        for (const f of s.touch) ctx.toucher.touch(f.value, `${ctx.startedAt} ${s.name} run ${n + 1}`);
        try {
          const rep = await timed(ctx.cacheDir);
          if (rep.built === 0) {
            ctx.say(`kiln: warning: scenario '${s.name}': touching ${s.touch.map((t) => t.value).join(', ')} rebuilt nothing: is it an input of the targets?`);
          }
        } finally {
          ctx.toucher.restoreAll();
        }
      }
      break;
    }
    case 'remote': {
      // Outputs cleaned first, so the warm-up restores or builds every node through the user's
      // cache: the remote gets whatever it lacks (kiln uploads what a remote is owed).
      cleanOutputs(ctx.ws, selected, new NodeStates(ctx.db));
      await warmUp();
      while (n < s.runs) {
        const rep = await withEmptyCache((dir) => timed(dir));
        if (rep.built > 0) ctx.say(`kiln: warning: scenario '${s.name}' run ${rep.rep}: ${rep.built} nodes were built, not restored: the remote lacks them`);
      }
      break;
    }
  }
  return scenarioResult(s.name, s.kind, targets, reps);
}
