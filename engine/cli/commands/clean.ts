import fs from 'node:fs';
import path from 'node:path';
import { cleanOutputs } from '../../state/clean-outputs.js';
import { NodeStates } from '../../state/node-states.js';
import { openStateDb } from '../../state/state-db.js';
import { STATE_DIR } from '../../state/state-dir.js';
import { parseCommand } from '../args.js';
import { loadForCommand, selectForCommand } from '../workspace.js';

const USAGE = `usage: kiln clean [targets...] [--all]

Removes the declared outputs of the targets (default: every node) and
forgets their state in this checkout, so the next build restores or rebuilds
them. The cache is left alone (see 'kiln cache gc').

  --all    also delete this checkout's state (.kiln/: stat cache, history)`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand('clean', argv, { all: { type: 'boolean' } }, USAGE);
  const ws = await loadForCommand(values);
  const selected = selectForCommand(ws, positionals);
  const db = openStateDb(ws.root);
  const removed = cleanOutputs(ws, selected, new NodeStates(db));
  db.close();
  if (values.all) fs.rmSync(path.join(ws.root, STATE_DIR), { recursive: true, force: true });
  process.stdout.write(`removed ${removed} outputs of ${selected.size} nodes${values.all ? ' and the checkout state' : ''}\n`);
  return 0;
}
