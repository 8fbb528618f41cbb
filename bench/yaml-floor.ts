// The floor of loading a build file: one node process that reads it and
// parses it with js-yaml's plain load (no positions, no checks, no graph),
// as any tool reading YAML must at least. Free of kiln code.
//   usage: node dist/bench/yaml-floor.js FILE
// Prints "entries=<count of the `nodes` mapping's keys>" so the caller can
// check it read the whole file.
import fs from 'node:fs';
import { load } from 'js-yaml';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: node dist/bench/yaml-floor.js FILE\n');
  process.exit(2);
}
const doc = load(fs.readFileSync(file, 'utf8')) as { nodes?: Record<string, unknown> } | null;
process.stdout.write(`entries=${Object.keys(doc?.nodes ?? {}).length}\n`);
