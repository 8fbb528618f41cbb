import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** kiln's version from its package.json, found upward from this file (works from dist/ and from sources). */
export function readVersion(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
    if (path.dirname(dir) === dir) return 'unknown';
  }
}
