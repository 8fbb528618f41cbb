import { reportUserError, UserError } from '../../diagnostic.js';

/**
 * Every command's module, each loaded only when its command runs. The CLI's
 * entry (main.ts) reaches them only through this module, so a bundled kiln
 * is two files: the small entry, which answers --version and --help alone,
 * and this module with everything the commands use.
 */
interface CommandModule {
  run(argv: string[]): Promise<number>;
}

const COMMAND_MODULES: Record<string, () => Promise<CommandModule>> = {
  build: () => import('./build.js'),
  init: () => import('./init.js'),
  why: () => import('./why.js'),
  graph: () => import('./graph.js'),
  cache: () => import('./cache.js'),
  clean: () => import('./clean.js'),
  chase: () => import('./chase.js'),
  bisect: () => import('./bisect.js'),
  daemon: () => import('./daemon.js'),
  report: () => import('./report.js'),
  history: () => import('./history.js'),
  trace: () => import('./trace.js'),
  bench: () => import('./bench.js'),
};

/**
 * Runs command `name` (one of COMMAND_MODULES): its exit code, or the exit
 * code of the UserError it raised after printing its diagnostics. The
 * UserError is caught here, inside the bundle that raised it: the entry is
 * bundled apart and has a class of its own.
 */
export async function runCommand(name: string, argv: string[]): Promise<number> {
  try {
    return await (await COMMAND_MODULES[name]!()).run(argv);
  } catch (e) {
    if (e instanceof UserError) return reportUserError(e);
    throw e;
  }
}
