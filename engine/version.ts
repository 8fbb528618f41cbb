import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * kiln's version from its package.json, found upward from this file (works
 * from sources, from tsc's dist/ and from the bundle in dist/cli/, whose own
 * package.json only says its files are CommonJS and has no version).
 */
export function readVersion(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const { version } = JSON.parse(fs.readFileSync(file, 'utf8')) as { version?: unknown };
      if (typeof version === 'string') return version;
    }
    if (path.dirname(dir) === dir) return 'unknown';
  }
}
