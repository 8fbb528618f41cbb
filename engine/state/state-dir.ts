import fs from 'node:fs';
import path from 'node:path';

/** Per-checkout state lives here: stat cache, node states, run history, the daemon's address. */
export const STATE_DIR = '.kiln';

/** Where a running daemon writes its address: a build checks for it before loading any daemon code. */
export function daemonInfoFile(root: string): string {
  return path.join(root, STATE_DIR, 'daemon.json');
}

/**
 * Makes `dir` (the state dir or a dir inside it) and gives the state dir a
 * `.gitignore` of `*` when it has none, whichever command made it first:
 * checkout-local state never shows in `git status` (as .nx/ and .turbo/).
 */
export function ensureStateDir(root: string, dir = path.join(root, STATE_DIR)): string {
  fs.mkdirSync(dir, { recursive: true });
  const ignore = path.join(root, STATE_DIR, '.gitignore');
  if (!fs.existsSync(ignore)) fs.writeFileSync(ignore, '*\n');
  return dir;
}
