// One driver per tool: how to build the monorepo with it, how many tasks it
// really ran (not restored from its cache), and how to forget everything it
// cached. Every tool runs as a whole process, from spawn to exit, with the
// same node and the same minimal environment (bench/kiln.ts kilnEnv).
import fs from 'node:fs';
import path from 'node:path';
import type { GeneratedWorkspace } from '../generate.js';
import { nodeDir, OUTPUT_DIR } from '../generate.js';
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
  /** Removes the tool's caches and state and every output: the next build is cold. */
  reset(): void;
}

/** No build may take longer (a cold build of 1,000 packages through npm run takes minutes). */
const TIMEOUT_MS = 60 * 60 * 1000;
const NPM_ARGS = ['--npm', 'build', '--npm-outputs', OUTPUT_DIR];

export function kilnDriver(ws: GeneratedWorkspace, scratch: string): Driver {
  const target: BuildTarget = {
    dir: ws.dir,
    cacheDir: path.join(scratch, 'kiln-cache'),
    summaryFile: path.join(scratch, 'kiln-summary.json'),
    args: NPM_ARGS,
  };
  return {
    name: 'kiln',
    ws,
    build: async (label) => {
      const r = await build(target, `kiln ${label}`);
      const bad = r.summary.nodes.filter((n) => n.status !== 'built' && n.status !== 'cached');
      if (bad.length > 0) throw new Error(`kiln ${label}: ${bad[0]!.id} ${bad[0]!.status}: ${bad[0]!.error}`);
      const ranIds = new Set(r.summary.nodes.filter((n) => n.status === 'built').map((n) => n.id.replace(/#build$/, '')));
      return { ms: r.proc.ms, ran: ranIds.size, ranIds };
    },
    reset: () => {
      removeAll(ws, [target.cacheDir, path.join(ws.dir, '.kiln')]);
    },
  };
}

export function turboDriver(ws: GeneratedWorkspace, scratch: string, tools: PeerTools): Driver {
  const cacheDir = path.join(scratch, 'turbo-cache');
  const env = { ...kilnEnv(), TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1', NO_COLOR: '1' };
  return {
    name: 'turbo',
    ws,
    build: async (label) => {
      const args = [tools.turboBin, 'run', 'build', `--cache-dir=${cacheDir}`, '--output-logs=none'];
      const r = ok(`turbo ${label}`, await run(process.execPath, args, { cwd: ws.dir, env, timeoutMs: TIMEOUT_MS }));
      const m = /Cached:\s+(\d+) cached, (\d+) total/.exec(plain(r.stdout));
      if (!m) throw new Error(`turbo ${label}: no task count in its output\n${outputTail(r)}`);
      return { ms: r.ms, ran: Number(m[2]) - Number(m[1]) };
    },
    // turbo keeps each task's log in <package>/.turbo; they are cached outputs too.
    reset: () => removeAll(ws, [cacheDir, path.join(ws.dir, '.turbo'), ...ws.nodes.map((n) => path.join(ws.dir, nodeDir(n.id), '.turbo'))]),
  };
}

/** Nx with its daemon off (NX_DAEMON=false): each build is a fresh process, as kiln's and turbo's are. */
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
  return {
    name: 'nx',
    ws,
    build: async (label) => {
      const r = ok(`nx ${label}`, await run(process.execPath, [tools.nxBin, 'run-many', '-t', 'build'], { cwd: ws.dir, env, timeoutMs: TIMEOUT_MS }));
      const m = /Cache:\s+(\d+)\/(\d+) hit/.exec(plain(r.stdout));
      if (!m) throw new Error(`nx ${label}: no task count in its output\n${outputTail(r)}`);
      return { ms: r.ms, ran: Number(m[2]) - Number(m[1]) };
    },
    reset: () => removeAll(ws, [cacheDir, dataDir, path.join(ws.dir, '.nx')]),
  };
}

function removeAll(ws: GeneratedWorkspace, paths: string[]): void {
  for (const p of [...paths, ...ws.nodes.map((n) => path.join(ws.dir, nodeDir(n.id), OUTPUT_DIR))]) {
    fs.rmSync(p, { recursive: true, force: true });
  }
}

/** Output without ANSI colour codes. */
const plain = (text: string): string => text.replace(/\x1b\[[0-9;]*m/g, '');
