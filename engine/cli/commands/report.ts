import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../../diagnostic.js';
import { htmlReport } from '../../report/html.js';
import { reportModel } from '../../report/model.js';
import { textReport } from '../../report/text.js';
import { listRuns, loadRun, type RunRecord } from '../../state/run-record.js';
import { openStateDb } from '../../state/state-db.js';
import { STATE_DIR } from '../../state/state-dir.js';
import { parseCommand, positiveInt, resolveWorkspaceSpec } from '../args.js';

const USAGE = `usage: kiln report [RUN] [-o FILE] [--runs N]

Reports on a recorded run (default: the newest 'kiln build' run, else the
newest run of any command; RUN is a run id): duration, workers, cache hit
ratio, the critical path (the dependency chain with the largest sum of node
durations), the lower bound max(critical path, total work / workers) and how
far the run was from it, and the slowest nodes.

  -o, --output FILE     write a self-contained HTML report instead: timeline
                        by worker lane with the critical path highlighted,
                        slowest nodes, build time and hit rate of the last
                        runs, and the kiln chase table of upstream commits
  --runs N              runs in the history chart (default: 30)`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(
    'report',
    argv,
    { output: { type: 'string', short: 'o' }, runs: { type: 'string' } },
    USAGE,
  );
  if (positionals.length > 1) throw new UserError([{ message: 'report: expects at most one run id', hint: 'kiln report [RUN]' }]);
  const historyRuns = values.runs !== undefined ? positiveInt('report', 'runs', values.runs) : 30;
  const root = path.dirname(resolveWorkspaceSpec(values).rootFile);
  if (!fs.existsSync(path.join(root, STATE_DIR, 'state.db'))) {
    throw noRuns();
  }
  const db = openStateDb(root);
  try {
    const model = reportModel(db, pickRun(db, positionals[0]), historyRuns);
    if (values.output === undefined) {
      process.stdout.write(textReport(model));
      return 0;
    }
    const file = path.resolve(values.output);
    try {
      fs.writeFileSync(file, htmlReport(model));
    } catch (e) {
      throw new UserError([{ message: `report: cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }]);
    }
    process.stdout.write(`kiln report: run ${model.run.id} written to ${values.output}\n`);
    return 0;
  } finally {
    db.close();
  }
}

function pickRun(db: Parameters<typeof loadRun>[0], raw: string | undefined): RunRecord {
  if (raw === undefined) {
    const newest = listRuns(db, 1, 'build')[0] ?? listRuns(db, 1)[0];
    if (!newest) throw noRuns();
    return newest;
  }
  const id = Number(raw);
  if (!Number.isInteger(id) || id < 1) {
    throw new UserError([{ message: `report: RUN must be a run id (a positive integer), got '${raw}'` }]);
  }
  const found = loadRun(db, id);
  if (!found) {
    const newest = listRuns(db, 1)[0];
    throw new UserError([
      {
        message: `report: no run ${id} in this workspace's history`,
        hint: newest ? `run ids go up to ${newest.id}` : 'run kiln build first',
      },
    ]);
  }
  return found;
}

const noRuns = () => new UserError([{ message: 'report: no run recorded in this workspace yet', hint: 'run kiln build first' }]);
