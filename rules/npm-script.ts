import path from 'node:path';
import * as v from 'valibot';
import type { Rule, RuleContext, RuleOutcome } from './rule.js';
import { runProcess, TIMEOUT_SCHEMA } from './run.js';

const TEXT = v.pipe(v.string(), v.minLength(1));

/** One lifecycle step of a script: `prebuild`, `build`, `postbuild`. */
const STEP = v.strictObject(
  { event: TEXT, cmd: TEXT },
  'expected {event, cmd}: the lifecycle event (e.g. prebuild) and its command',
);

export interface NpmStep {
  event: string;
  cmd: string;
}

/**
 * A package.json script of an npm workspace package, as the npm-workspaces
 * importer declares it (see engine/buildfile/npm/). The script text and its
 * pre/post scripts are attributes, so they enter the key; the package.json
 * itself is an input file of the node, and the lockfile counts through
 * `externalDeps`: only the resolved dependencies of the package change it.
 *
 * The steps run through `sh -c` directly, not through `npm run`: npm spends
 * 0.35-1 s per script reading the workspace before it starts the command.
 * The command gets the environment npm would give it (PATH with the
 * node_modules/.bin dirs, npm_package_*, npm_lifecycle_*), so scripts that
 * rely on it behave as under npm.
 */
export const npmScriptRule: Rule = {
  id: 'npm-script',
  version: 1,
  description: 'Runs a package.json script (and its pre/post scripts) the way npm run does',
  attributes: {
    package: TEXT,
    version: v.optional(v.string(), ''),
    script: TEXT,
    steps: v.pipe(v.array(STEP), v.minLength(1)),
    /** Package name → digest of its resolved external dependencies (the lockfile's part for it): its own and those of packages passed through. */
    externalDeps: v.optional(v.record(v.string(), v.string()), {}),
    timeout: TIMEOUT_SCHEMA,
  },
  required: ['package', 'script', 'steps'],
  run: async (ctx: RuleContext): Promise<RuleOutcome> => {
    const attrs = ctx.node.attrs as { package: string; version: string; steps: NpmStep[]; timeout?: number };
    const base = npmEnv(ctx, attrs.package, attrs.version);
    for (const step of attrs.steps) {
      const env = { ...base, npm_lifecycle_event: step.event, npm_lifecycle_script: step.cmd };
      const outcome = await runProcess(ctx, { cmd: step.cmd, cwd: ctx.cwd, env, timeoutSeconds: attrs.timeout });
      if (!outcome.ok) return { ok: false, error: `${step.event}: ${outcome.error}` };
    }
    return { ok: true };
  },
};

/**
 * What `npm run` adds to a script's environment (see @npmcli/run-script):
 * node_modules/.bin of the package dir and each parent up to the workspace
 * root first on PATH, the package's name, version and package.json, and
 * the node binary. Absolute paths here never enter the key.
 */
function npmEnv(ctx: RuleContext, name: string, version: string): Record<string, string> {
  const bins: string[] = [];
  for (let dir = ctx.cwd; ; dir = path.dirname(dir)) {
    bins.push(path.join(dir, 'node_modules', '.bin'));
    if (dir === ctx.root || path.dirname(dir) === dir) break;
  }
  const PATH = [...bins, ...(ctx.env.PATH ? [ctx.env.PATH] : [])].join(path.delimiter);
  return {
    ...ctx.env,
    PATH,
    npm_package_name: name,
    npm_package_version: version,
    npm_package_json: path.join(ctx.cwd, 'package.json'),
    npm_command: 'run-script',
    npm_node_execpath: process.execPath,
    NODE: process.execPath,
    INIT_CWD: ctx.cwd,
  };
}
