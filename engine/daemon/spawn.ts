import type { ChildProcess } from 'node:child_process';
import { childProcess } from '../lazy-builtins.js';
import fs from 'node:fs';
import path from 'node:path';
import type { WorkspaceSpec } from '../workspace-spec.js';
import { ensureStateDir, STATE_DIR } from '../state/state-dir.js';

/** A daemon nobody asks for this long exits (`kiln daemon start --idle-timeout` overrides). */
export const DEFAULT_IDLE_MINUTES = 180;

/** Starts `kiln daemon serve` for the workspace, detached, logging to .kiln/daemon.log; does not wait for it. */
export function spawnDaemon(spec: WorkspaceSpec, idleMinutes: number): ChildProcess {
  const root = path.dirname(spec.rootFile);
  ensureStateDir(root);
  const log = fs.openSync(path.join(root, STATE_DIR, 'daemon.log'), 'a');
  const workspace = spec.npm
    ? [
        ...(spec.npm.scripts !== undefined ? ['--npm', spec.npm.scripts] : []),
        ...(spec.npm.outputs !== undefined ? ['--npm-outputs', spec.npm.outputs] : []),
        ...(spec.npm.strictOutputs ? ['--strict-outputs'] : []),
      ]
    : ['-f', spec.rootFile];
  const child = childProcess().spawn(process.execPath, [process.argv[1]!, 'daemon', 'serve', ...workspace, '--idle-timeout', String(idleMinutes)], {
    cwd: root,
    detached: true,
    stdio: ['ignore', log, log],
    env: process.env,
  });
  child.unref();
  fs.closeSync(log);
  return child;
}
