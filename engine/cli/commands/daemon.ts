import path from 'node:path';
import { UserError } from '../../diagnostic.js';
import { exchange, readDaemonInfo, type DaemonInfo, type DaemonStatus } from '../../daemon/protocol.js';
import { DEFAULT_IDLE_MINUTES, spawnDaemon } from '../../daemon/spawn.js';
import { isAlive } from '../../pid.js';
import { STATE_DIR } from '../../state/state-dir.js';
import { parseCommand, positiveInt, resolveWorkspaceSpec } from '../args.js';
import type { WorkspaceSpec } from '../../workspace-spec.js';

const USAGE = `usage: kiln daemon start | stop | status   [--npm SCRIPTS [--npm-outputs DIRS]]

A resident process per workspace that answers builds: it proves nodes up to
date once, watches the directories those proofs depend on (inotify), and
answers a no-op 'kiln build' from memory. After a change it runs the build
itself (the engine is loaded, untouched nodes need no stat) and streams its
output; Ctrl-C in the client cancels it. Builds with --dry-run, --override,
--offline, --profile or a remote cache, and workspaces with nodes that have a
resolve step (git, patches) or a toolchain, build in the client as usual,
after which the daemon proves again.

  start                 start the daemon for this workspace (log: .kiln/daemon.log)
  stop                  stop it
  status                pid, proven nodes, watched directories, answers
  --idle-timeout MIN    start: exit after this many idle minutes (default 180)

A daemon serves the workspace as it was started: the kiln.yaml workspace, or
with --npm the npm workspace and scripts given (builds with other flags are
not answered by it).

A build at a terminal (outside CI) of a workspace of 200 nodes or more starts
a daemon on its own when none runs, and says so. KILN_DAEMON=0 makes a build
neither use nor start one.`;

const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 5_000;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand('daemon', argv, { 'idle-timeout': { type: 'string' } }, USAGE);
  const [action, ...rest] = positionals;
  if (rest.length > 0 || !action || !['start', 'stop', 'status', 'serve'].includes(action)) {
    throw new UserError([{ message: `daemon: expected start, stop or status${action ? `, got '${[action, ...rest].join(' ')}'` : ''}`, hint: "run 'kiln daemon --help'" }]);
  }
  // `serve` is spawned with the exact flags of the spec it serves.
  const spec = resolveWorkspaceSpec(values, action === 'serve' ? 'as-given' : 'last-build');
  const root = path.dirname(spec.rootFile);
  const idleMinutes = values['idle-timeout'] === undefined ? DEFAULT_IDLE_MINUTES : positiveInt('daemon', 'idle-timeout', values['idle-timeout'], 7 * 24 * 60);
  switch (action) {
    case 'serve':
      return serve(spec, idleMinutes);
    case 'start':
      return start(spec, idleMinutes);
    case 'stop':
      return stop(root);
    default:
      return status(root);
  }
}

/** The daemon itself, in the foreground (what `start` runs detached). */
async function serve(spec: WorkspaceSpec, idleMinutes: number): Promise<number> {
  const { Daemon } = await import('../../daemon/server.js');
  const daemon = new Daemon(spec, idleMinutes * 60_000);
  const quit = () => {
    daemon.stop();
    process.exit(0);
  };
  process.on('SIGTERM', quit);
  process.on('SIGINT', quit);
  await daemon.start(process.env);
  process.stdout.write(`kiln daemon ${process.pid} serving ${path.dirname(spec.rootFile)}\n`);
  return new Promise<number>(() => undefined); // runs until stopped or idle
}

/** How long a status request may take: a daemon re-proving a large workspace can be busy for a while. */
const STATUS_TIMEOUT_MS = 5_000;

/**
 * The daemon serving `root`: its status, or `busy` when its process lives
 * but did not answer in time (it is not "not running": another must not be
 * started beside it).
 */
async function running(root: string): Promise<{ info: DaemonInfo; status: DaemonStatus } | { info: DaemonInfo; busy: true } | undefined> {
  const info = readDaemonInfo(root);
  if (!info || !isAlive(info.pid)) return undefined;
  const r = await exchange(info.socket, { kind: 'status' }, STATUS_TIMEOUT_MS);
  return r?.kind === 'status' ? { info, status: r.status } : { info, busy: true };
}

const busyLine = (pid: number) => `kiln: daemon pid ${pid} is running but did not answer within ${STATUS_TIMEOUT_MS / 1000} s (busy)\n`;

async function start(spec: WorkspaceSpec, idleMinutes: number): Promise<number> {
  const root = path.dirname(spec.rootFile);
  const already = await running(root);
  if (already) {
    process.stdout.write('busy' in already ? busyLine(already.info.pid) : `kiln: daemon already running (pid ${already.info.pid})\n`);
    return 0;
  }
  const child = spawnDaemon(spec, idleMinutes);
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const up = await running(root);
    if (up && 'status' in up && up.info.pid === child.pid && !up.status.proving) {
      process.stdout.write(`kiln: daemon started (pid ${child.pid}): ${describe(up.status)}\n`);
      return 0;
    }
    if (child.exitCode !== null || !isAlive(child.pid!)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new UserError([{ message: 'daemon: it did not start', hint: `see ${path.join(root, STATE_DIR, 'daemon.log')}` }], 1);
}

async function stop(root: string): Promise<number> {
  const up = await running(root);
  if (!up) {
    process.stdout.write('kiln: no daemon running\n');
    return 0;
  }
  await exchange(up.info.socket, { kind: 'stop' }, STOP_TIMEOUT_MS);
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (isAlive(up.info.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (isAlive(up.info.pid)) process.kill(up.info.pid, 'SIGTERM');
  process.stdout.write(`kiln: daemon stopped (pid ${up.info.pid})\n`);
  return 0;
}

async function status(root: string): Promise<number> {
  const up = await running(root);
  if (!up) process.stdout.write('kiln: no daemon running\n');
  else process.stdout.write('busy' in up ? busyLine(up.info.pid) : `kiln: daemon pid ${up.info.pid}: ${describe(up.status)}\n`);
  return 0;
}

function describe(s: DaemonStatus): string {
  const state = s.proving ? 'proving' : s.notReady ? `would decline: ${s.notReady}` : 'ready';
  return `${s.proven}/${s.total} nodes proven up to date, ${s.watchedDirs} directories watched, ${s.answered} builds answered (${s.built} run by the daemon), ${s.declined} declined; ${state}`;
}
