// A node whose outputs were deleted keeps its recorded key when its inputs
// stat as recorded (node-stages.ts knownKey): deleting `dist/` changes the
// package dir's mtime, which the input stamp tolerates only while the dir
// lists exactly the recorded inputs plus outputs. Every change to the
// inputs made while the outputs are gone must still rebuild: checked on the
// output bytes of the package and of its dependent.
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { RACY_MARGIN_MS } from '../engine/keys/stamps.js';
import { buildWithSummary, libAndApp, statuses, tempDir, writeFiles } from './kiln.js';

async function workspace() {
  const dir = tempDir('kiln-restore-stamp-');
  const cacheDir = path.join(tempDir('kiln-restore-stamp-cache-'), 'cache');
  writeFiles(dir, {
    ...libAndApp('mkdir -p dist && cat *.txt sub/*.txt > dist/out.txt'),
    'packages/lib/a.txt': 'a1\n',
    'packages/lib/sub/b.txt': 'b1\n',
    'packages/lib/sub/e.txt': 'e1\n',
  });
  // Old enough that the cold build's input stamps are trusted: the short way is what is under test.
  await sleep(RACY_MARGIN_MS * 2);
  const build = () => buildWithSummary(dir, ['--npm', 'build', '--npm-outputs', 'dist', '--cache-dir', cacheDir, '--logs', 'none']);
  const cold = await build();
  expect(cold.exitCode, cold.stderr).toBe(0);
  await sleep(RACY_MARGIN_MS * 2);
  return { dir, build };
}

const read = (dir: string, rel: string) => fs.readFileSync(path.join(dir, rel), 'utf8');
const dropOutputs = (dir: string) => {
  for (const p of ['lib', 'app']) fs.rmSync(path.join(dir, 'packages', p, 'dist'), { recursive: true, force: true });
};

describe('restoring deleted outputs by the recorded key', () => {
  it('restores unchanged packages without running them, and stays up to date after', async () => {
    const { dir, build } = await workspace();
    dropOutputs(dir);
    const restored = await build();
    expect(statuses(restored.summary).built).toEqual([]);
    expect(read(dir, 'packages/app/dist/app.txt')).toBe('app\na1\nb1\ne1\n');
    expect(statuses((await build()).summary).built).toEqual([]);
  });

  const EDITS: Record<string, (dir: string) => void> = {
    'an input edited': (dir) => fs.appendFileSync(path.join(dir, 'packages/lib/a.txt'), 'a2\n'),
    'an input added beside dist/': (dir) => fs.writeFileSync(path.join(dir, 'packages/lib/c.txt'), 'c1\n'),
    'an input added in a subdirectory': (dir) => fs.writeFileSync(path.join(dir, 'packages/lib/sub/d.txt'), 'd1\n'),
    'an input deleted': (dir) => fs.rmSync(path.join(dir, 'packages/lib/sub/b.txt')),
  };
  const WANT: Record<string, string> = {
    'an input edited': 'app\na1\na2\nb1\ne1\n',
    'an input added beside dist/': 'app\na1\nc1\nb1\ne1\n',
    'an input added in a subdirectory': 'app\na1\nb1\nd1\ne1\n',
    'an input deleted': 'app\na1\ne1\n',
  };
  for (const [what, edit] of Object.entries(EDITS)) {
    it(`rebuilds after ${what} while the outputs were gone`, async () => {
      const { dir, build } = await workspace();
      dropOutputs(dir);
      edit(dir);
      const r = await build();
      expect(r.exitCode, r.stderr).toBe(0);
      expect(statuses(r.summary).built).toEqual(['app#build', 'lib#build']);
      expect(read(dir, 'packages/app/dist/app.txt')).toBe(WANT[what]);
    });
  }
});
