import path from 'node:path';
import { isAlive } from '../pid.js';
import type { WorkspaceSpec } from '../workspace-spec.js';
import { readDaemonInfo } from './protocol.js';
import { DEFAULT_IDLE_MINUTES, spawnDaemon } from './spawn.js';

/**
 * Below this many nodes a daemon is not started on its own: a no-op of a
 * small workspace already costs little more than a node start, and a daemon
 * holds a watch per input directory.
 */
export const AUTO_START_NODES = 200;

/**
 * Like the nx daemon, kiln starts one on its own for a developer at a
 * terminal: the caller asks only after a build in the client at a terminal
 * outside CI (never for scripts, benchmarks, editors). Starts one when the
 * workspace has at least AUTO_START_NODES nodes, KILN_DAEMON is not 0 and no
 * daemon serves it. Returns the new daemon's pid, if one was started.
 */
export function autoStartDaemon(spec: WorkspaceSpec, nodes: number, env: NodeJS.ProcessEnv): number | undefined {
  if (env.KILN_DAEMON === '0' || nodes < AUTO_START_NODES) return undefined;
  const info = readDaemonInfo(path.dirname(spec.rootFile));
  if (info && isAlive(info.pid)) return undefined;
  return spawnDaemon(spec, DEFAULT_IDLE_MINUTES).pid;
}
