import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { buildWithSummary, statuses, tempDir, writeFiles } from './kiln.js';

const GRAPH = `
nodes:
  lib:
    rule: run
    inputs: ['src/**/*.c']
    outputs: [out/lib]
    env: [FLAVOUR]
    cmd: mkdir -p out && cat $(find src -name '*.c' | sort) > out/lib && echo "lib $FLAVOUR" >> out/lib
  app:
    rule: run
    deps: [lib]
    inputs: [main.c]
    outputs: [out/app]
    cmd: cat out/lib main.c > out/app
`;

/** Past the racy margin: stamps recorded from now on are trusted. */
const settle = () => new Promise((r) => setTimeout(r, 150));

/**
 * Poisons every stat-cache digest: a build that consults the stat cache
 * computes wrong input digests and rebuilds; one that decides by stamps
 * does not notice.
 */
function poisonStatCache(ws: string): void {
  const db = new Database(path.join(ws, '.kiln/state.db'));
  db.prepare("UPDATE stat SET digest = 'poisoned'").run();
  db.close();
}

async function setup() {
  const ws = tempDir();
  writeFiles(ws, { 'kiln.yaml': GRAPH, 'src/a.c': 'a\n', 'src/sub/b.c': 'b\n', 'main.c': 'main\n' });
  const env = { KILN_CACHE_DIR: tempDir('kiln-cache-'), FLAVOUR: 'plain' };
  await settle();
  const cold = await buildWithSummary(ws, [], env);
  expect(statuses(cold.summary).built).toEqual(['app', 'lib']);
  return { ws, env };
}

describe('up to date by stamps', () => {
  it('decides a no-op from stats alone, without the stat cache', async () => {
    const { ws, env } = await setup();
    poisonStatCache(ws);
    const noop = await buildWithSummary(ws, [], env);
    expect(statuses(noop.summary).cached).toEqual(['app', 'lib']);
  });

  it('sees a same-size edit with the old mtime restored (ctime moves)', async () => {
    const { ws, env } = await setup();
    const file = path.join(ws, 'src/a.c');
    const { atime, mtime } = fs.statSync(file);
    fs.writeFileSync(file, 'A\n');
    fs.utimesSync(file, atime, mtime);
    const r = await buildWithSummary(ws, [], env);
    expect(statuses(r.summary).built).toEqual(['app', 'lib']);
    expect(fs.readFileSync(path.join(ws, 'out/app'), 'utf8')).toContain('A\n');
  });

  it('sees a file added in a subdirectory, and one deleted', async () => {
    const { ws, env } = await setup();
    writeFiles(ws, { 'src/sub/deeper/c.c': 'c\n' });
    expect(statuses((await buildWithSummary(ws, [], env)).summary).built).toEqual(['app', 'lib']);
    fs.rmSync(path.join(ws, 'src/a.c'));
    expect(statuses((await buildWithSummary(ws, [], env)).summary).built).toEqual(['app', 'lib']);
    // A file the glob does not match changes nothing.
    writeFiles(ws, { 'src/notes.txt': 'x\n' });
    expect(statuses((await buildWithSummary(ws, [], env)).summary).cached).toEqual(['app', 'lib']);
  });

  it('sees a changed input pattern, env value and a dependency rebuilt', async () => {
    const { ws, env } = await setup();
    expect(statuses((await buildWithSummary(ws, [], { ...env, FLAVOUR: 'spicy' })).summary).built).toEqual(['app', 'lib']);
    // The command still reads every .c file: lib's outputs stay the same and app is cut off early.
    writeFiles(ws, { 'kiln.yaml': GRAPH.replace("'src/**/*.c'", "'src/*.c'") });
    const narrowed = statuses((await buildWithSummary(ws, [], { ...env, FLAVOUR: 'spicy' })).summary);
    expect(narrowed).toMatchObject({ built: ['lib'], cached: ['app'] });
  });

  it('renews the stamp of a file touched without a change, so the next no-op is fast again', async () => {
    const { ws, env } = await setup();
    const now = new Date();
    fs.utimesSync(path.join(ws, 'main.c'), now, now);
    await settle();
    // Content unchanged: the slow path finds the same key.
    expect(statuses((await buildWithSummary(ws, [], env)).summary).cached).toEqual(['app', 'lib']);
    poisonStatCache(ws);
    expect(statuses((await buildWithSummary(ws, [], env)).summary).cached).toEqual(['app', 'lib']);
  });

  it('restores a deleted output instead of trusting the stamp', async () => {
    const { ws, env } = await setup();
    fs.rmSync(path.join(ws, 'out/lib'));
    const r = await buildWithSummary(ws, [], env);
    expect(statuses(r.summary).cached).toEqual(['app', 'lib']);
    expect(fs.readFileSync(path.join(ws, 'out/lib'), 'utf8')).toBe('a\nb\nlib plain\n');
  });
});
