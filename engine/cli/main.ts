#!/usr/bin/env node
// Entry point. Kept free of heavy imports: `kiln --version` must start fast,
// so each command module is imported only when that command runs.
import { UserError, formatDiagnostic } from '../diagnostic.js';
import { readVersion } from '../version.js';

type CommandModule = { run(argv: string[]): Promise<number> };

const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  build: { summary: 'build targets (default: every node)', load: () => import('./commands/build.js') },
  init: { summary: 'write a kiln.yaml for the JS workspace here, from what its scripts wrote', load: () => import('./commands/init.js') },
  why: { summary: 'explain why a node would rebuild', load: () => import('./commands/why.js') },
  graph: { summary: 'print the build graph (dot or json)', load: () => import('./commands/graph.js') },
  cache: { summary: 'local cache: stats | verify | gc --max-size SIZE | serve', load: () => import('./commands/cache.js') },
  clean: { summary: 'remove outputs of nodes and forget their state', load: () => import('./commands/clean.js') },
  chase: { summary: 'build every new upstream commit of the git projects', load: () => import('./commands/chase.js') },
  bisect: { summary: 'find the first upstream commit at which a node fails', load: () => import('./commands/bisect.js') },
  daemon: { summary: 'start | stop | status: a resident process that answers and runs builds', load: () => import('./commands/daemon.js') },
  report: { summary: 'critical path, lower bound and slowest nodes of a run; -o FILE: HTML report', load: () => import('./commands/report.js') },
  history: { summary: 'recorded builds: runs, one run, one node across runs', load: () => import('./commands/history.js') },
  trace: { summary: 'a recorded run as Chrome trace-event JSON (Perfetto)', load: () => import('./commands/trace.js') },
  bench: { summary: 'time builds of this workspace (cold, noop, incremental, remote)', load: () => import('./commands/bench.js') },
};

const USAGE = `usage: kiln <command> [options]

commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(8)}${c.summary}`)
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
  const command = COMMANDS[name];
  if (!command) {
    const { didYouMean } = await import('../diagnostic.js');
    const guess = didYouMean(name, Object.keys(COMMANDS));
    throw new UserError([{ message: `unknown command '${name}'`, hint: guess ? `did you mean 'kiln ${guess}'?` : 'run kiln --help' }]);
  }
  return (await command.load()).run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UserError) {
      process.stderr.write(`${e.diagnostics.map((d) => `kiln: ${formatDiagnostic(d)}`).join('\n')}\n`);
      process.exitCode = e.exitCode;
      return;
    }
    process.stderr.write(`kiln: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 70;
  },
);
