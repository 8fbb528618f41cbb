import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../../diagnostic.js';
import { daemonInfoFile } from '../../state/state-dir.js';
import { cobuildRedis } from '../cobuild-redis.js';
import { onOutputClosed } from '../closed-output.js';
import { parseCommand, MAX_JOBS, positiveInt, rememberJsSpec, resolveCacheDir, resolveWorkspaceSpec } from '../args.js';
import type { LogMode } from '../../progress/progress.js';
import type { Workspace } from '../../buildfile/types.js';

// Only light modules load before the daemon is asked: when it answers, the
// build engine, the rules and SQLite are never loaded at all.

const USAGE = `usage: kiln build [targets...] [options]

Targets are node ids or globs over ids (quote them: 'svc-*'); their deps build too.

  -j, --jobs N          parallel nodes (default: available cores)
  -k, --keep-going      keep building independent nodes after a failure
  --dry-run             compute keys and show what would run; run nothing
  --summary FILE        write the run summary JSON (format version 1)
  --profile FILE        write the run as Chrome trace-event JSON (Perfetto)
  --logs MODE           full (default): print and replay node output;
                        failed: only failed nodes; none
  --remote-cache URL    shared cache (else KILN_REMOTE_CACHE, else remote: in kiln.yaml)
  --remote-read-only    download from the remote cache, never upload
  --no-remote           use the local cache only
  --offline             rules use local state as is (git mirrors are not fetched)
  --override NODE=REF|PATH
                        build NODE (a git project) from another ref or a local
                        checkout instead of its declared ref; repeatable
  --last-good           build every project kiln chase has built at its newest
                        commit that built (DLRN's "current"); --override wins
  --audit[=strict]      run every selected node (none comes from the cache: a
                        cached result was never traced) under the file tracer
                        (strace) and report each file it read that no input
                        declares and each path it wrote outside its outputs;
                        strict fails the nodes that did
  --shard I/N           one agent of N in a CI matrix: build the I-th share of
                        the nodes (the same split on every agent), wait for the
                        others' results in the remote cache (required)
  --shard-wait SECONDS  how long to wait for another agent's node (default 1800)
  --cobuild ID          one of several agents building one graph (ID: the CI
                        run's, the same on every agent): claim nodes through
                        Redis, share results through the remote cache (required)
  --redis URL           the cobuild's Redis (else KILN_REDIS_URL)`;

const LOG_MODES = ['full', 'failed', 'none'];

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(
    'build',
    // `--audit` alone means `--audit=warn`: a string option would otherwise take the next argument as its value.
    argv.map((a) => (a === '--audit' ? '--audit=warn' : a)),
    {
      jobs: { type: 'string', short: 'j' },
      'keep-going': { type: 'boolean', short: 'k' },
      'dry-run': { type: 'boolean' },
      summary: { type: 'string' },
      profile: { type: 'string' },
      logs: { type: 'string' },
      'remote-cache': { type: 'string' },
      'remote-read-only': { type: 'boolean' },
      'no-remote': { type: 'boolean' },
      offline: { type: 'boolean' },
      override: { type: 'string', multiple: true },
      'last-good': { type: 'boolean' },
      audit: { type: 'string' },
      shard: { type: 'string' },
      'shard-wait': { type: 'string' },
      cobuild: { type: 'string' },
      redis: { type: 'string' },
    },
    USAGE,
  );
  const logs = values.logs ?? 'full';
  if (!LOG_MODES.includes(logs)) {
    throw new UserError([{ message: `build: --logs must be one of ${LOG_MODES.join(', ')}, got '${logs}'` }]);
  }
  if (values.profile !== undefined && values['dry-run']) {
    throw new UserError([{ message: 'build: --profile records a real build; a --dry-run runs nothing' }]);
  }
  const audit = values.audit;
  if (audit !== undefined && audit !== 'warn' && audit !== 'strict') {
    throw new UserError([{ message: `build: --audit takes no value or 'strict', got '${audit}'` }]);
  }
  if (audit !== undefined && values['dry-run']) {
    throw new UserError([{ message: 'build: --audit traces the commands a build runs; a --dry-run runs none' }]);
  }
  if (audit !== undefined) {
    const tracer = (await import('../../tracing/strace.js')).straceAvailable();
    if (tracer !== true) throw new UserError([{ message: `build: --audit: ${tracer}` }]);
  }
  const shard = values.shard !== undefined ? parseShard(values.shard, values['shard-wait']) : undefined;
  const cobuildId = values.cobuild !== undefined ? parseCobuildId(values.cobuild, shard !== undefined) : undefined;
  if (cobuildId === undefined && values.redis !== undefined) throw new UserError([{ message: 'build: --redis is for a build with --cobuild' }]);
  if (shard === undefined && values['shard-wait'] !== undefined) throw new UserError([{ message: 'build: --shard-wait is for a build with --shard' }]);
  const jobs = values.jobs !== undefined ? positiveInt('build', 'jobs', values.jobs, MAX_JOBS) : os.availableParallelism();
  const live = Boolean(process.stdout.isTTY) && !process.env.CI;
  const spec = resolveWorkspaceSpec(values, 'as-given');
  const root = path.dirname(spec.rootFile);
  // The daemon answers plain builds of nodes it proved up to date; anything else builds here.
  const daemonable = !values['dry-run'] && audit === undefined && shard === undefined && cobuildId === undefined && !values.profile && !values.override && !values['last-good'] && !values.offline && !values['remote-cache'] && !values['remote-read-only'];
  let vouched: Map<string, string> | undefined;
  // Daemon code loads only when a daemon has written its address (~10 ms saved on every other build).
  const daemonRuns = fs.existsSync(daemonInfoFile(root));
  if (daemonRuns && daemonable && process.env.KILN_DAEMON !== '0') {
    const { buildViaDaemon } = await import('../../daemon/client.js');
    const answered = await buildViaDaemon(root, {
      spec,
      env: process.env,
      args: process.argv.slice(2),
      targets: positionals,
      jobs,
      logs: logs as LogMode,
      keepGoing: Boolean(values['keep-going']),
      ...(values.summary ? { summary: path.resolve(values.summary) } : {}),
      cacheDir: resolveCacheDir(values),
      live,
      columns: process.stdout.columns || 120,
    });
    if ('exitCode' in answered) return answered.exitCode;
    vouched = answered.vouched;
  }

  const [{ runBuild }, { loadSpecForCommand, selectForCommand }, { remoteFor, parseOverrides }, { createProgress, intervalFromEnv }] = await Promise.all([
    import('../../pipeline/run-build.js'),
    import('../workspace.js'),
    import('../build-options.js'),
    import('../../progress/progress.js'),
  ]);
  const ws = await loadSpecForCommand(spec);
  rememberJsSpec(spec);
  const selected = selectForCommand(ws, positionals);
  const remote = await remoteFor(ws, values);
  const cobuild = cobuildId !== undefined ? { id: cobuildId, redis: await cobuildRedis('build', values.redis, async () => ws.cobuild?.redis) } : undefined;
  if ((shard || cobuild) && !remote) {
    throw new UserError([{ message: `build: --${shard ? 'shard' : 'cobuild'} shares results through a remote cache, and none is configured`, hint: 'set --remote-cache URL, KILN_REMOTE_CACHE or remote: in kiln.yaml' }]);
  }
  const overrides = parseOverrides(ws, values.override ?? []);
  if (values['last-good']) await pinLastGood(ws, overrides);

  // First Ctrl-C/SIGTERM cancels: running commands' process groups are killed,
  // finished work stays cached. A second one exits at once.
  // Exit codes follow the shell convention, 128 + signal number.
  const abort = new AbortController();
  let signalExit = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    const code = signal === 'SIGINT' ? 130 : 143;
    if (abort.signal.aborted) process.exit(code);
    signalExit = code;
    process.stderr.write(`\nkiln: ${signal}: stopping (running commands are killed)\n`);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Output read by a pipe that closed (`kiln build | head`): stopped as by a signal, quietly (there is no one to tell).
  onOutputClosed((code) => {
    signalExit = code;
    abort.abort();
  });

  const outcome = await runBuild(
    ws,
    {
      selected,
      jobs,
      keepGoing: Boolean(values['keep-going']),
      dryRun: Boolean(values['dry-run']),
      replayLogs: logs === 'full',
      cacheDir: resolveCacheDir(values),
      env: process.env,
      signal: abort.signal,
      command: 'build',
      args: process.argv.slice(2),
      offline: Boolean(values.offline),
      overrides,
      ...(remote ? { remote } : {}),
      ...(vouched ? { vouched } : {}),
      ...(values.summary ? { summaryFile: values.summary } : {}),
      ...(audit ? { audit } : {}),
      ...(shard ? { shard } : {}),
      ...(cobuild ? { cobuild } : {}),
    },
    createProgress({ live, logs: logs as LogMode, out: process.stdout, intervalMs: intervalFromEnv(process.env) }),
  );
  if (values.profile !== undefined && outcome.runId !== undefined) {
    (await import('./trace.js')).writeProfile(ws.root, outcome.runId, values.profile);
  }
  if (daemonRuns && !outcome.summary.dryRun) {
    const { notifyDaemon } = await import('../../daemon/client.js');
    await notifyDaemon(root, process.env);
  }
  // `live` means a terminal outside CI: a developer's build, which a daemon may then serve.
  if (live && daemonable && !signalExit && !outcome.summary.dryRun) {
    const { autoStartDaemon } = await import('../../daemon/auto-start.js');
    const pid = autoStartDaemon(spec, ws.nodes.length, process.env);
    if (pid !== undefined) {
      process.stderr.write(
        `kiln: started a daemon for this workspace (pid ${pid}): it answers or runs the next builds; 'kiln daemon stop' stops it, KILN_DAEMON=0 keeps builds from using or starting one\n`,
      );
    }
  }
  if (outcome.exitCode === 1 && !signalExit && !outcome.summary.dryRun) {
    const [{ afterFailureHints }, { openStateDb }] = await Promise.all([import('../../chase/after-failure.js'), import('../../state/state-db.js')]);
    const db = openStateDb(ws.root);
    try {
      for (const hint of afterFailureHints(db, ws, outcome.summary)) process.stderr.write(`kiln: hint: ${hint}\n`);
    } finally {
      db.close();
    }
  }
  if (signalExit) return signalExit;
  return outcome.exitCode;
}

/** `--last-good`: pins chased projects (not already overridden) to their last good commit, saying which. */
async function pinLastGood(ws: Workspace, overrides: Map<string, string>): Promise<void> {
  const [{ lastGoodPins }, { openStateDb }] = await Promise.all([import('../../chase/last-good.js'), import('../../state/state-db.js')]);
  const db = openStateDb(ws.root);
  let pins;
  try {
    pins = lastGoodPins(db, ws);
  } finally {
    db.close();
  }
  if (pins.length === 0) throw new UserError([{ message: 'build: --last-good: kiln chase has built no project here yet', hint: 'run kiln chase first' }]);
  for (const pin of pins) {
    if (overrides.has(pin.project)) continue;
    overrides.set(pin.project, pin.commit);
    const why = pin.newerFailed ? ` (its newest chased commit ${pin.newerFailed.slice(0, 10)} failed)` : '';
    process.stderr.write(`kiln: --last-good: ${pin.project} at ${pin.commit.slice(0, 10)}${why}\n`);
  }
}

/** `--shard I/N` (and `--shard-wait SECONDS`): this agent's share of a CI matrix. */
function parseShard(raw: string, wait: string | undefined): { index: number; count: number; waitMs: number } {
  const m = /^([0-9]+)\/([0-9]+)$/.exec(raw);
  const [index, count] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
  if (!m || index < 1 || count < 1 || index > count || count > 10_000) {
    throw new UserError([{ message: `build: --shard expects I/N with 1 <= I <= N, got '${raw}'`, hint: 'e.g. --shard 2/4 on the second of four agents' }]);
  }
  return { index, count, waitMs: (wait === undefined ? 1800 : positiveInt('build', 'shard-wait', wait, 86_400)) * 1000 };
}

/** `--cobuild ID`: letters, digits and `._:-` (it names Redis keys). */
function parseCobuildId(id: string, sharded: boolean): string {
  if (sharded) throw new UserError([{ message: 'build: --cobuild and --shard are two ways to split a build: use one', hint: '--shard needs no Redis; --cobuild balances as agents go' }]);
  if (!/^[A-Za-z0-9._:-]{1,200}$/.test(id)) {
    throw new UserError([{ message: `build: --cobuild expects an ID of letters, digits and . _ : -, got '${id}'`, hint: "the CI run's id, the same on every agent, e.g. --cobuild $CI_PIPELINE_ID" }]);
  }
  return id;
}
