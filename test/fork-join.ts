// A tiny graph for history, trace and report tests: two slow independent
// nodes and a join (with -j 2 the two share the two worker lanes), plus a
// node outside the `join` target.
import fs from 'node:fs';
import path from 'node:path';
import { kiln, tempDir, writeFiles } from './kiln.js';

export const FORK_JOIN = `
nodes:
  left:
    rule: run
    inputs: [l.txt]
    outputs: [out/left]
    cmd: sleep 0.3 && mkdir -p out && cp l.txt out/left
  right:
    rule: run
    outputs: [out/right]
    cmd: sleep 0.3 && mkdir -p out && head -c 5000 /dev/zero > out/right
  join:
    rule: run
    deps: [left, right]
    outputs: [out/join]
    cmd: mkdir -p out && cat out/left out/right > out/join
  unselected:
    rule: run
    outputs: [out/u]
    cmd: mkdir -p out && touch out/u
`;

/** A fresh workspace holding FORK_JOIN and its one input file. */
export function forkJoinWorkspace(): string {
  const ws = tempDir();
  writeFiles(ws, { 'kiln.yaml': FORK_JOIN, 'l.txt': 'L\n' });
  return ws;
}

/**
 * FORK_JOIN built twice with -j 2: run 1 cold (every node built), run 2 after
 * its outputs were deleted (every node restored from the local cache).
 */
export async function builtThenRestored(): Promise<{ ws: string; env: Record<string, string> }> {
  const ws = forkJoinWorkspace();
  const env = { KILN_CACHE_DIR: tempDir('kiln-cache-') };
  for (let run = 1; run <= 2; run++) {
    if (run === 2) fs.rmSync(path.join(ws, 'out'), { recursive: true });
    const r = await kiln(ws, ['build', '-j', '2', 'join'], env);
    if (r.exitCode !== 0) throw new Error(`build ${run} failed (exit ${r.exitCode}): ${r.stderr}${r.stdout}`);
  }
  return { ws, env };
}
