// The `bench:` block of kiln.yaml: what it declares, and every mistake at its file:line:col.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadWorkspace } from '../engine/buildfile/load.js';
import { formatDiagnostic } from '../engine/diagnostic.js';
import { tempDir, writeFiles } from './kiln.js';

const NODES = `nodes:
  app:
    rule: run
    outputs: [app.txt]
    cmd: touch app.txt
`;

function load(files: Record<string, string>) {
  const dir = tempDir('kiln-bench-block-');
  writeFiles(dir, files);
  return loadWorkspace(path.join(dir, 'kiln.yaml'));
}

function diagnostics(bench: string, extra: Record<string, string> = {}): string[] {
  const loaded = load({ 'kiln.yaml': `${NODES}${bench}`, ...extra });
  return loaded.ok ? [] : loaded.diagnostics.map(formatDiagnostic);
}

describe('bench: block', () => {
  it('declares named scenarios, runs, threshold and noise floor', () => {
    const loaded = load({
      'kiln.yaml': `${NODES}bench:
  runs: 3
  threshold: 12.5%
  noiseMs: 40
  scenarios:
    noop: {kind: noop}
    edit-core:
      kind: incremental
      touch: [./src/core.c, docs/a.md]
      targets: [app]
      runs: 2
`,
    });
    if (!loaded.ok) throw new Error(loaded.diagnostics.map(formatDiagnostic).join('\n'));
    const pos = (line: number, column: number) => ({ file: 'kiln.yaml', line, column });
    expect(loaded.value.bench).toEqual({
      runs: 3,
      thresholdPct: 12.5,
      noiseMs: 40,
      pos: pos(6, 1),
      scenarios: [
        { name: 'noop', kind: 'noop', targets: [], touch: [], pos: pos(11, 5) },
        {
          name: 'edit-core',
          kind: 'incremental',
          touch: [{ value: 'src/core.c', pos: pos(14, 15) }, { value: 'docs/a.md', pos: pos(14, 29) }],
          targets: [{ value: 'app', pos: pos(15, 17) }],
          runs: 2,
          pos: pos(12, 5),
        },
      ],
    });
  });

  it('reports every mistake at its position', () => {
    expect(
      diagnostics(`bench:
  runs: 0
  treshold: 10%
  noiseMs: -1
  scenarios:
    cold: {kind: cld}
    edit: {kind: incremental}
    quiet: {kind: noop, touch: [a.c]}
    out: {kind: incremental, touch: [../x.c, /etc/passwd]}
    nokind: {targets: [app]}
    "bad name": {kind: noop, runs: 1.5, extra: 1}
`),
    ).toEqual([
      'kiln.yaml:7:9: expected a positive integer',
      "kiln.yaml:8:3: unknown key 'treshold' in bench\n  hint: did you mean 'threshold'?",
      'kiln.yaml:9:12: expected milliseconds (a number >= 0)',
      "kiln.yaml:11:18: unknown scenario kind 'cld'\n  hint: did you mean 'cold'?",
      "kiln.yaml:12:5: scenario 'edit' (incremental) needs files to touch\n  hint: add `touch: [FILE, ...]` (paths relative to the workspace root)",
      "kiln.yaml:13:25: touch is only for incremental scenarios, and 'quiet' is noop",
      "kiln.yaml:14:38: touch '../x.c' is not a file inside the workspace\n  hint: paths are relative to the workspace root",
      "kiln.yaml:14:46: touch '/etc/passwd' is not a file inside the workspace\n  hint: paths are relative to the workspace root",
      "kiln.yaml:15:5: scenario 'nokind' needs a kind\n  hint: one of: cold, noop, incremental, remote",
      "kiln.yaml:16:5: invalid scenario name 'bad name'\n  hint: names start with a letter or digit, then letters, digits and . _ -",
      'kiln.yaml:16:36: expected a positive integer',
      "kiln.yaml:16:41: unknown key 'extra' in scenario 'bad name'\n  hint: valid keys: kind, targets, touch, runs",
    ]);
    expect(diagnostics('bench: 5\n')).toEqual([
      'kiln.yaml:6:8: expected a mapping with runs, threshold, scenarios\n  hint: e.g. `bench: {runs: 5, scenarios: {noop: {kind: noop}}}`',
    ]);
    expect(diagnostics('bench: {threshold: 0.1}\n')).toEqual(['kiln.yaml:6:20: expected a percentage\n  hint: e.g. `threshold: 10%`']);
    expect(diagnostics('include: [sub/kiln.yaml]\n', { 'sub/kiln.yaml': 'bench: {runs: 2}\n' })).toEqual([
      'sub/kiln.yaml:1:1: bench can only be configured in the root build file\n  hint: kiln bench scenarios belong to the whole workspace',
    ]);
  });
});
