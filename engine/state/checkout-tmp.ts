import fs from 'node:fs';
import path from 'node:path';
import { ensureStateDir, STATE_DIR } from './state-dir.js';
import { isAlive } from '../pid.js';

/** Temp files written by cache/local end in `.<pid>-<12 hex>` (or are named just that). */
const TEMP_NAME = /(?:^|\.)(\d+)-[0-9a-f]{12}$/;

/**
 * The checkout's scratch dir for restores (inside .kiln/, so never an input,
 * and on the checkout's filesystem, so a rename into place is atomic).
 * Leftovers of kiln processes that died (kill -9) are removed; files of
 * live processes, possibly another kiln in this checkout, are left alone.
 */
export function prepareCheckoutTmp(root: string): string {
  const dir = ensureStateDir(root, path.join(root, STATE_DIR, 'tmp'));
  for (const name of fs.readdirSync(dir)) {
    const pid = Number(TEMP_NAME.exec(name)?.[1]);
    if (pid && !isAlive(pid)) fs.rmSync(path.join(dir, name), { force: true });
  }
  return dir;
}
