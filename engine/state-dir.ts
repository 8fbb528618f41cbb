import path from 'node:path';

/** Per-checkout state lives here: stat cache, node states, run history, the daemon's address. */
export const STATE_DIR = '.kiln';

/** Where a running daemon writes its address: a build checks for it before loading any daemon code. */
export function daemonInfoFile(root: string): string {
  return path.join(root, STATE_DIR, 'daemon.json');
}
