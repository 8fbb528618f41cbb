// The floors: the least work any build tool without a resident daemon must
// do for a no-op build, run as its own node process like kiln: start node,
// list every input file, stat it and (unless --stat-only) hash its content.
// Stat-only is what a tool that trusts a stat memo (kiln, turbo with git's
// index) must do at least; hashing too is what a tool without one does.
// Deliberately naive (single thread, sync fs, no globbing library) and free
// of any kiln code.
//   usage: node dist/bench/floor.js WORKSPACE_DIR [--stat-only]
// Prints "files=<count> digest=<xor of digests>" (digest 0 with --stat-only)
// so the caller can check it saw every input.
import fs from 'node:fs';
import path from 'node:path';
import xxhash from 'xxhash-wasm';

/** Not inputs: build outputs and tool/VCS state (named as in generated workspaces; .turbo and .nx for bench/peers). */
const SKIP_DIRS = new Set(['dist', '.kiln', '.git', 'node_modules', '.turbo', '.nx']);

const [root, mode] = process.argv.slice(2);
if (!root || (mode !== undefined && mode !== '--stat-only')) {
  process.stderr.write('usage: node dist/bench/floor.js WORKSPACE_DIR [--stat-only]\n');
  process.exit(2);
}
const hash = mode === '--stat-only' ? undefined : (await xxhash()).h64Raw;
let files = 0;
let digest = 0n;

function walk(dir: string): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const abs = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name)) walk(abs);
    } else if (entry.isFile()) {
      fs.statSync(abs); // kiln must stat every input to trust its memo; so does the floor
      if (hash) digest ^= hash(fs.readFileSync(abs));
      files++;
    }
  }
}

walk(root);
process.stdout.write(`files=${files} digest=${digest.toString(16)}\n`);
