import os from 'node:os';
import { runBuild } from '../../build.js';
import type { Workspace } from '../../buildfile/types.js';
import type { RemoteSetup } from '../../../cache/remote/config.js';
import { didYouMean, UserError } from '../../diagnostic.js';
import { rules } from '../../../rules/index.js';
import { writeSummary } from '../../summary.js';
import { parseCommand, positiveInt, resolveCacheDir } from '../args.js';
import { createProgress, intervalFromEnv, type LogMode } from '../progress.js';
import { loadForCommand, selectForCommand } from '../workspace.js';

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
                        checkout instead of its declared ref; repeatable`;

const LOG_MODES = ['full', 'failed', 'none'];

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(
    'build',
    argv,
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
  const jobs = values.jobs ? positiveInt('build', 'jobs', values.jobs) : os.availableParallelism();
  const ws = await loadForCommand(values);
  const selected = selectForCommand(ws, positionals);
  const remote = await remoteFor(ws, values);
  const overrides = parseOverrides(ws, values.override ?? []);

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

  const live = Boolean(process.stdout.isTTY) && !process.env.CI;
  const outcome = await runBuild(
    ws,
    {
      selected,
      jobs,
      keepGoing: Boolean(values['keep-going']),
      dryRun: Boolean(values['dry-run']),
      cacheDir: resolveCacheDir(values),
      env: process.env,
      signal: abort.signal,
      command: 'build',
      offline: Boolean(values.offline),
      overrides,
      ...(remote ? { remote } : {}),
    },
    createProgress({ live, logs: logs as LogMode, out: process.stdout, intervalMs: intervalFromEnv(process.env) }),
  );
  if (values.summary) writeSummary(values.summary, outcome.summary);
  if (values.profile !== undefined && outcome.runId !== undefined) {
    (await import('./trace.js')).writeProfile(ws.root, outcome.runId, values.profile);
  }
  if (signalExit) return signalExit;
  return outcome.exitCode;
}

/** The remote cache setup, loading the protocol clients only when a remote is configured at all. */
export async function remoteFor(
  ws: Workspace,
  values: { 'remote-cache'?: string; 'remote-read-only'?: boolean; 'no-remote'?: boolean },
): Promise<RemoteSetup | undefined> {
  if (values['no-remote'] || !(values['remote-cache'] ?? process.env.KILN_REMOTE_CACHE ?? ws.remote)) return undefined;
  const { configureRemote } = await import('../../../cache/remote/config.js');
  const configured = configureRemote(ws.remote, process.env, {
    ...(values['remote-cache'] ? { url: values['remote-cache'] } : {}),
    readOnly: Boolean(values['remote-read-only']),
  });
  if ('error' in configured) throw new UserError([configured.error]);
  return configured.setup;
}

/** `--override NODE=VALUE` entries, each naming a node whose rule supports overrides. */
export function parseOverrides(ws: Workspace, raw: string[]): Map<string, string> {
  const overrides = new Map<string, string>();
  for (const entry of raw) {
    const eq = entry.indexOf('=');
    const id = entry.slice(0, eq);
    const node = ws.nodes.find((n) => n.id === id);
    if (eq <= 0 || eq === entry.length - 1) {
      throw new UserError([{ message: `--override '${entry}' is not NODE=REF or NODE=PATH` }]);
    }
    if (!node) {
      const guess = didYouMean(id, ws.nodes.map((n) => n.id));
      throw new UserError([{ message: `--override: no node '${id}'`, ...(guess ? { hint: `did you mean '${guess}'?` } : {}) }]);
    }
    if (!rules.get(node.rule)?.overridable) {
      throw new UserError([{ message: `--override: node '${id}' (rule ${node.rule}) cannot be overridden`, hint: 'overrides apply to git projects' }]);
    }
    overrides.set(id, entry.slice(eq + 1));
  }
  return overrides;
}
