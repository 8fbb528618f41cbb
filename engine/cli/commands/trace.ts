import fs from 'node:fs';
import { UserError } from '../../diagnostic.js';
import { loadRun } from '../../state/run-record.js';
import { openStateDb } from '../../state/state-db.js';
import { Cobuild } from '../../cobuild/coordinator.js';
import { formatTrace, mergeTraces, traceOfRun, type ChromeTrace } from '../../report/trace.js';
import { parseCommand, resolveWorkspaceSpec } from '../args.js';
import { cobuildRedis } from '../cobuild-redis.js';
import { loadSpecForCommand } from '../workspace.js';
import { openHistoryDb, resolveRun } from '../history-db.js';

const USAGE = `usage: kiln trace [RUN] [-o FILE]
       kiln trace --cobuild ID [--redis URL] [-o FILE]

Writes a recorded run (its id, or 'last', the default) as Chrome trace-event
JSON: open it in https://ui.perfetto.dev or chrome://tracing. One row per
worker with each node and its phases (fetch, restore, run, store), one row
per upload slot. 'kiln build --profile FILE' writes the same for the build
it runs.

  -o, --output FILE   write to FILE instead of stdout
  --cobuild ID        the agents of a cobuild (kiln build --cobuild ID) as one
                      trace, a process per agent on one clock, from the traces
                      they left in Redis (--redis URL, else KILN_REDIS_URL,
                      else cobuild: {redis: URL} in the root build file)`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand('trace', argv, { output: { type: 'string', short: 'o' }, cobuild: { type: 'string' }, redis: { type: 'string' } }, USAGE);
  if (positionals.length > 1) throw new UserError([{ message: 'trace: expects at most one run id', hint: 'kiln trace [RUN] [-o FILE]' }]);
  if (values.cobuild !== undefined) {
    if (positionals.length > 0) throw new UserError([{ message: 'trace: a run id or --cobuild ID, not both' }]);
    const redis = await cobuildRedis('trace', values.redis, async () => (await loadSpecForCommand(resolveWorkspaceSpec(values))).cobuild?.redis);
    const text = await cobuildTrace(values.cobuild, redis);
    if (values.output) writeOrFail(values.output, text, 'trace: -o');
    else process.stdout.write(text);
    return 0;
  }
  const db = openHistoryDb(values);
  try {
    const text = formatTrace(traceOfRun(db!, resolveRun(db, positionals[0] ?? 'last', 'trace')));
    if (values.output) writeOrFail(values.output, text, 'trace: -o');
    else process.stdout.write(text);
    return 0;
  } finally {
    db?.close();
  }
}

/** `kiln build --profile FILE`: the trace of the run the build just recorded. */
export function writeProfile(root: string, runId: number, file: string): void {
  const db = openStateDb(root);
  try {
    const run = loadRun(db, runId);
    if (!run) throw new UserError([{ message: `build: --profile: run ${runId} is no longer in history` }], 1);
    writeOrFail(file, formatTrace(traceOfRun(db, run)), 'build: --profile');
  } finally {
    db.close();
  }
}

function writeOrFail(file: string, text: string, what: string): void {
  try {
    fs.writeFileSync(file, text);
  } catch (e) {
    throw new UserError([{ message: `${what}: cannot write '${file}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }]);
  }
}

/** The traces every agent of a cobuild left in Redis, merged. */
async function cobuildTrace(id: string, redis: string): Promise<string> {
  let warning: string | undefined;
  const cobuild = await Cobuild.connect(redis, id, (m) => (warning = m), '');
  if (!cobuild) throw new UserError([{ message: `trace: ${warning ?? 'cannot reach Redis'}` }], 1);
  try {
    const traces = await cobuild.traces();
    if (traces.size === 0) throw new UserError([{ message: `trace: no agent of cobuild '${id}' left a trace`, hint: 'agents leave theirs when their build ends; traces are kept a day' }], 1);
    return formatTrace(mergeTraces([...traces].map(([agent, json]) => ({ agent, trace: JSON.parse(json) as ChromeTrace }))));
  } finally {
    cobuild.close();
  }
}
