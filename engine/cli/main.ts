#!/usr/bin/env node
// Entry point. Kept free of heavy imports: `kiln --version` must start fast,
// so the commands (commands/index.ts) are imported only when one runs.
import { createRequire } from 'node:module';
import { didYouMean, reportUserError, UserError } from '../diagnostic.js';
import { readVersion } from '../version.js';
import { requireWithCodeCache } from './code-cache.js';
import { watchOutput } from './closed-output.js';

/** Defined (true) by the bundler: dist/cli/main.js loads the commands bundle as CommonJS, through the code cache. */
declare const KILN_BUNDLE: boolean | undefined;

/** Each command's one-line summary for --help; its module is in commands/index.ts. */
const COMMANDS: Record<string, string> = {
  build: 'build targets (default: every node)',
  init: 'write a kiln.yaml for the JS workspace here, from what its scripts wrote',
  why: 'explain why a node would rebuild',
  graph: 'print the build graph (dot or json)',
  cache: 'local cache: stats | verify | gc --max-size SIZE | serve',
  clean: 'remove outputs of nodes and forget their state',
  chase: 'build every new upstream commit of the git projects',
  bisect: 'find the first upstream commit at which a node fails',
  daemon: 'start | stop | status: a resident process that answers and runs builds',
  report: 'critical path, lower bound and slowest nodes of a run; -o FILE: HTML report',
  history: 'recorded builds: runs, one run, one node across runs',
  trace: 'a recorded run as Chrome trace-event JSON (Perfetto)',
  bench: 'time builds of this workspace (cold, noop, incremental, remote)',
};

const USAGE = `usage: kiln <command> [options]

commands:
${Object.entries(COMMANDS)
  .map(([name, summary]) => `  ${name.padEnd(8)}${summary}`)
  .join('\n')}

global options (any command):
  -f, --file FILE       root build file (default: outermost kiln.yaml up to the repo root)
  --cache-dir DIR       local cache (default: $KILN_CACHE_DIR or ~/.cache/kiln)
  --npm SCRIPT[,...]    no kiln.yaml: these package.json scripts of the npm,
                        pnpm or yarn workspace around the current dir (default:
                        build; turbo.json configures them where there is one;
                        other commands reuse the last build's)
  --npm-outputs GLOBS   no kiln.yaml nor turbo.json: each script's outputs, e.g. 'dist/**'
  --strict-outputs      a script that produced none of its declared outputs fails
  -h, --help            help for a command
  --version             print kiln's version

exit codes: 0 success, 1 build failure, 2 usage or build-file error`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V') {
    process.stdout.write(`kiln ${readVersion()}\n`);
    return 0;
  }
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return name === undefined ? 2 : 0;
  }
  if (!Object.hasOwn(COMMANDS, name)) {
    const guess = didYouMean(name, Object.keys(COMMANDS));
    return reportUserError(new UserError([{ message: `unknown command '${name}'`, hint: guess ? `did you mean 'kiln ${guess}'?` : 'run kiln --help' }]));
  }
  const { runCommand } = typeof KILN_BUNDLE !== 'undefined'
    ? (requireWithCodeCache(createRequire(import.meta.url).resolve('./commands/index.js')) as typeof import('./commands/index.js'))
    : await import('./commands/index.js');
  return runCommand(name, rest);
}

watchOutput();
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`kiln: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 70;
  },
);
