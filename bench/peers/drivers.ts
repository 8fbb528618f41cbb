// One driver per tool: how to build the monorepo with it, how many tasks it
// really ran (not restored from its cache), and how to forget everything it
// cached. Every tool runs as a whole process, from spawn to exit, with the
// same node and the same minimal environment (bench/kiln.ts kilnEnv).
import fs from 'node:fs';
import path from 'node:path';
import type { GeneratedWorkspace } from '../generate.js';
import { nodeDir, OUTPUT_DIR } from '../generate.js';
import { expectDaemonDid, readyDaemonCounts, startDaemon, stopDaemon, type DaemonCounts } from '../daemon.js';
import { build, kilnEnv, type BuildTarget } from '../kiln.js';
import { ok, outputTail, run } from '../../engine/proc.js';
import type { PeerTools } from './tools.js';

export type ToolName = 'kiln' | 'turbo' | 'nx';

export interface ToolRun {
  ms: number;
  /** Tasks the tool ran (cache misses). */
  ran: number;
  /** Which packages kiln ran, from its run summary (peers report counts only). */
  ranIds?: Set<string>;
}

export interface Driver {
  name: ToolName;
  /** This tool's own copy of the monorepo. */
  ws: GeneratedWorkspace;
  build(label: string): Promise<ToolRun>;
  /**
   * Starts and warms up the tool's resident process, where it has one (the
   * kiln daemon, the nx daemon; turbo 2 runs without one), untimed: called
   * before a scenario's edit, so the process has seen the state before it.
   */
  prepareWarm(): Promise<void>;
  /**
   * A build with the resident process. kiln checks that its daemon answered
   * a no-op from memory and ran a change itself (never declined: the client
   * would build, timed under the wrong name).
   */
  warm(label: string, noop: boolean): Promise<ToolRun>;
  /** Stops the resident process, if any. */
  stopWarm(): Promise<void>;
  /** Removes the tool's caches and state and every output: the next build is cold. */
  reset(): void;
  /**
   * Removes every output and what the tool keeps in the checkout, but keeps
   * its cache: a fresh clone on a machine whose cache is warm.
   */
  freshClone(): void;
}

/** No build may take longer (a cold build of 1,000 packages through npm run takes minutes). */
const TIMEOUT_MS = 60 * 60 * 1000;
/** As a turbo user runs it: the monorepo's turbo.json declares the outputs (`dist/**`). */
const NPM_ARGS = ['--npm', 'build'];

export function kilnDriver(ws: GeneratedWorkspace, scratch: string): Driver {
  const target: BuildTarget = {
    dir: ws.dir,
    cacheDir: path.join(scratch, 'kiln-cache'),
    summaryFile: path.join(scratch, 'kiln-summary.json'),
    args: NPM_ARGS,
  };
  // Every build but warm() ignores the daemon (they still tell it what they changed).
  const direct: BuildTarget = { ...target, env: { KILN_DAEMON: '0' } };
  let before: DaemonCounts = { fromMemory: 0, ran: 0 };
  const kilnBuild = async (t: BuildTarget, label: string): Promise<ToolRun> => {
    const r = await build(t, `kiln ${label}`);
    const bad = r.summary.nodes.filter((n) => n.status !== 'built' && n.status !== 'cached');
    if (bad.length > 0) throw new Error(`kiln ${label}: ${bad[0]!.id} ${bad[0]!.status}: ${bad[0]!.error}`);
    const ranIds = new Set(r.summary.nodes.filter((n) => n.status === 'built').map((n) => n.id.replace(/#build$/, '')));
    return { ms: r.proc.ms, ran: ranIds.size, ranIds };
  };
  return {
    name: 'kiln',
    ws,
    build: (label) => kilnBuild(direct, label),
    prepareWarm: async () => {
      await startDaemon(ws.dir, NPM_ARGS);
      before = await readyDaemonCounts(ws.dir, NPM_ARGS);
    },
    warm: async (label, noop) => {
      const r = await kilnBuild(target, label);
      expectDaemonDid(`kiln ${label}`, before, await readyDaemonCounts(ws.dir, NPM_ARGS), noop ? 'fromMemory' : 'ran');
      return r;
    },
    stopWarm: () => stopDaemon(ws.dir, NPM_ARGS),
    reset: () => {
      removeAll(ws, [target.cacheDir, path.join(ws.dir, '.kiln')]);
    },
    freshClone: () => removeAll(ws, [path.join(ws.dir, '.kiln')]),
  };
}

export function turboDriver(ws: GeneratedWorkspace, scratch: string, tools: PeerTools): Driver {
  const cacheDir = path.join(scratch, 'turbo-cache');
  const env = { ...kilnEnv(), TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1', NO_COLOR: '1' };
  const turboBuild = async (label: string): Promise<ToolRun> => {
    const args = [tools.turboBin, 'run', 'build', `--cache-dir=${cacheDir}`, '--output-logs=none'];
    const r = ok(`turbo ${label}`, await run(process.execPath, args, { cwd: ws.dir, env, timeoutMs: TIMEOUT_MS }));
    const m = /Cached:\s+(\d+) cached, (\d+) total/.exec(plain(r.stdout));
    if (!m) throw new Error(`turbo ${label}: no task count in its output\n${outputTail(r)}`);
    return { ms: r.ms, ran: Number(m[2]) - Number(m[1]) };
  };
  return {
    name: 'turbo',
    ws,
    build: turboBuild,
    prepareWarm: async () => undefined, // turbo 2's run has no resident process
    warm: (label) => turboBuild(label),
    stopWarm: async () => undefined,
    // turbo keeps each task's log in <package>/.turbo; they are cached outputs too.
    reset: () => removeAll(ws, [cacheDir, ...turboDirs(ws)]),
    freshClone: () => removeAll(ws, turboDirs(ws)),
  };
}

/**
 * Nx with its daemon off (NX_DAEMON=false) for every build but warm(), which
 * uses the nx daemon (NX_DAEMON=true), as nx does by default outside CI.
 */
export function nxDriver(ws: GeneratedWorkspace, scratch: string, tools: PeerTools): Driver {
  const cacheDir = path.join(scratch, 'nx-cache');
  const dataDir = path.join(scratch, 'nx-data');
  const env = {
    ...kilnEnv(),
    NX_DAEMON: 'false',
    NX_NO_CLOUD: 'true',
    NX_TUI: 'false',
    NX_CACHE_DIRECTORY: cacheDir,
    NX_WORKSPACE_DATA_DIRECTORY: dataDir,
    DO_NOT_TRACK: '1',
    NO_COLOR: '1',
  };
  const nx = async (args: string[], label: string, daemon: boolean) =>
    ok(`nx ${label}`, await run(process.execPath, [tools.nxBin, ...args], { cwd: ws.dir, env: { ...env, NX_DAEMON: String(daemon) }, timeoutMs: TIMEOUT_MS }));
  const nxBuild = async (label: string, daemon: boolean): Promise<ToolRun> => {
    const r = await nx(['run-many', '-t', 'build'], label, daemon);
    const m = /Cache:\s+(\d+)\/(\d+) hit/.exec(plain(r.stdout));
    if (!m) throw new Error(`nx ${label}: no task count in its output\n${outputTail(r)}`);
    return { ms: r.ms, ran: Number(m[2]) - Number(m[1]) };
  };
  let daemonWarm = false;
  return {
    name: 'nx',
    ws,
    build: (label) => nxBuild(label, false),
    prepareWarm: async () => {
      if (!daemonWarm) await nxBuild('daemon warm-up', true);
      daemonWarm = true;
    },
    warm: (label) => nxBuild(label, true),
    stopWarm: async () => {
      if (daemonWarm) await nx(['daemon', '--stop'], 'daemon --stop', true);
      daemonWarm = false;
    },
    reset: () => removeAll(ws, [cacheDir, dataDir, path.join(ws.dir, '.nx')]),
    // The workspace data (project graph) is per checkout; the cache is not.
    freshClone: () => removeAll(ws, [dataDir, path.join(ws.dir, '.nx')]),
  };
}

/** What turbo writes into the checkout: .turbo at the root and in each package (task logs). */
function turboDirs(ws: GeneratedWorkspace): string[] {
  return [path.join(ws.dir, '.turbo'), ...ws.nodes.map((n) => path.join(ws.dir, nodeDir(n.id), '.turbo'))];
}

function removeAll(ws: GeneratedWorkspace, paths: string[]): void {
  for (const p of [...paths, ...ws.nodes.map((n) => path.join(ws.dir, nodeDir(n.id), OUTPUT_DIR))]) {
    fs.rmSync(p, { recursive: true, force: true });
  }
}

/** Output without ANSI colour codes. */
const plain = (text: string): string => text.replace(/\x1b\[[0-9;]*m/g, '');
