import { sha256Hex } from '../keys/hash/sha256.js';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WorkspaceSpec } from '../workspace-spec.js';
import { daemonInfoFile } from '../state/state-dir.js';
import { readVersion } from '../version.js';

// The daemon and its clients speak one JSON line each way over a Unix socket.
// This module is all a client loads: keep it free of heavy imports.

/** A build a client asks the daemon to answer; everything it needs from the client's process. */
export interface BuildRequest {
  kind: 'build';
  code: string;
  /** The workspace the client means: the daemon answers only for the one it serves. */
  spec: WorkspaceSpec;
  env: NodeJS.ProcessEnv;
  /** The command line as typed, for the run's history row. */
  args: string[];
  targets: string[];
  jobs: number;
  logs: 'full' | 'failed' | 'none';
  keepGoing: boolean;
  /** Absolute path, if the client asked for a summary file. */
  summary?: string;
  cacheDir: string;
  live: boolean;
  columns: number;
}

/** Sent after a build the daemon did not answer: it proves the workspace again. */
export interface RebuiltNotice {
  kind: 'rebuilt';
  code: string;
  env: NodeJS.ProcessEnv;
}

export type Request = BuildRequest | RebuiltNotice | { kind: 'status' } | { kind: 'stop' };

export interface DaemonStatus {
  pid: number;
  root: string;
  /** Nodes proven up to date, and why the daemon cannot answer right now (if it cannot). */
  proven: number;
  total: number;
  watchedDirs: number;
  /** A proof is under way (a build request waits for it). */
  proving: boolean;
  /** Why a build would be declined right now, if it would. */
  notReady: string | null;
  answered: number;
  /** Builds the daemon ran itself (a change to stamp-checkable nodes); counted in `answered` too. */
  built: number;
  declined: number;
}

export type Response =
  /** The build's result; `stdout` holds what was not streamed as `output` lines before it. */
  | { kind: 'answer'; exitCode: number; stdout: string }
  /** Terminal output of a build the daemon runs, streamed before its answer. */
  | { kind: 'output'; text: string }
  /** `vouched`: node id → key of the proven nodes no change touched (their stats can be skipped). */
  | { kind: 'declined'; reason: string; vouched?: Record<string, string> }
  | { kind: 'status'; status: DaemonStatus }
  | { kind: 'ok' };

/** Where a running daemon writes its address. */
export interface DaemonInfo {
  pid: number;
  socket: string;
  code: string;
}

/**
 * The identity of the code answering: a daemon started by another kiln build
 * (even one with the same version number) never answers for this one.
 */
export function codeStamp(): string {
  return `${readVersion()}:${fs.statSync(fileURLToPath(import.meta.url)).mtimeMs}`;
}

/**
 * This process's socket for the workspace at `root`. Unix socket paths are limited to ~100 bytes: it lives
 * in a per-user temp dir, named by the workspace and the pid. The pid matters: closing a listening socket
 * unlinks its path, so a daemon that is retiring (its .kiln removed) would otherwise take away the socket
 * of the daemon started after it, which clients then cannot reach.
 */
export function ownSocketPath(root: string): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  const name = sha256Hex(root).slice(0, 20);
  return path.join(os.tmpdir(), `kiln-${uid}`, `${name}-${process.pid}.sock`);
}

export function readDaemonInfo(root: string): DaemonInfo | undefined {
  try {
    return JSON.parse(fs.readFileSync(daemonInfoFile(root), 'utf8')) as DaemonInfo;
  } catch {
    return undefined;
  }
}

/**
 * Sends one request and reads its response: `output` lines go to
 * `onOutput` as they arrive, the first other line is the response.
 * Undefined when the daemon is gone, or silent for `timeoutMs` before its
 * first line (once a build streams output, it may take as long as it takes).
 */
export function exchange(
  socket: string,
  request: Request,
  timeoutMs: number,
  onOutput: (text: string) => void = () => undefined,
): Promise<Response | undefined> {
  return new Promise((resolve) => {
    const conn = net.createConnection(socket);
    let data = '';
    let done = false;
    const finish = (r: Response | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      conn.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    conn.setEncoding('utf8');
    conn.on('connect', () => conn.write(`${JSON.stringify(request)}\n`));
    conn.on('data', (chunk: string) => {
      data += chunk;
      for (let nl = data.indexOf('\n'); nl >= 0 && !done; nl = data.indexOf('\n')) {
        const line = data.slice(0, nl);
        data = data.slice(nl + 1);
        let response: Response;
        try {
          response = JSON.parse(line) as Response;
        } catch {
          finish(undefined);
          return;
        }
        if (response.kind !== 'output') {
          finish(response);
          return;
        }
        clearTimeout(timer);
        onOutput(response.text);
      }
    });
    conn.on('error', () => finish(undefined));
    conn.on('close', () => finish(undefined));
  });
}
