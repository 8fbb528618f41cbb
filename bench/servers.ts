// The real remote cache servers, each on 127.0.0.1 under a temp dir: kiln's
// own server, nginx with WebDAV (the Bazel HTTP cache as many teams run it)
// and turborepo-remote-cache. Shared by the remote tests (re-exported by
// test/servers/start.ts) and bench/remote.ts. Every server runs in its own
// process group, so kill() takes nginx's workers down with its master, and
// can be started again on the same dir and port (a restart after a crash).
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { kilnEnv, KILN_MAIN, REPO_ROOT } from './kiln.js';
import { killHard, outputTail, start, type Started } from '../engine/proc.js';

export interface RunningServer {
  url: string;
  /** Where the server keeps its artifacts (to inspect or tamper with them). */
  dataDir: string;
  /** What to pass to the same starter to restart this server on its data (kiln: --dir, nginx: the prefix, turbo: the storage path). */
  home: string;
  port: number;
  /** The server's main process (nginx: the master). */
  pid: number;
  /** SIGTERM (a clean shutdown) and wait until it has exited. */
  stop(): Promise<void>;
  /** SIGKILL its whole process group, as a crash or an OOM kill would, and wait until it is gone. */
  kill(): Promise<void>;
}

/** Where to run: a server's home and port from an earlier run, to restart it on the same data and URL. */
export interface ServerPlace {
  home?: string;
  port?: number;
}

export const TURBO_CLI = path.join(REPO_ROOT, 'test/servers/turbo/node_modules/turborepo-remote-cache/dist/cli.js');
const START_TIMEOUT_MS = 20_000;

/** Servers still running, killed if this process exits without stopping them (a failed test, a bench error). */
const live = new Set<Started>();
process.on('exit', () => {
  for (const s of live) killHard(s.child, true);
});

function tempHome(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

function launch(cmd: string, args: string[], env: NodeJS.ProcessEnv): Started {
  const s = start(cmd, args, { env, detached: true });
  live.add(s);
  const forget = () => live.delete(s);
  s.done.then(forget, forget);
  return s;
}

/** Polls until the port accepts connections; throws if the process died or took too long. */
async function waitForPort(port: number, s: Started, what: string): Promise<void> {
  const deadline = performance.now() + START_TIMEOUT_MS;
  let exited = false;
  void s.done.then(() => (exited = true));
  while (performance.now() < deadline) {
    if (exited) throw new Error(`${what} exited before listening on ${port}:\n${outputTail(await s.done)}`);
    const up = await new Promise<boolean>((resolve) => {
      const sock = net.connect(port, '127.0.0.1', () => {
        sock.destroy();
        resolve(true);
      });
      sock.on('error', () => resolve(false));
    });
    if (up) return;
    await sleep(25);
  }
  killHard(s.child, true);
  throw new Error(`${what} did not listen on ${port} within ${START_TIMEOUT_MS / 1000} s`);
}

function handle(s: Started, url: string, dataDir: string, home: string, port: number): RunningServer {
  return {
    url,
    dataDir,
    home,
    port,
    pid: s.child.pid!,
    stop: async () => {
      if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGTERM');
      await s.done;
    },
    kill: async () => {
      killHard(s.child, true);
      await s.done; // 'close': every process holding its pipes (nginx's worker too) is gone
    },
  };
}

/** `kiln cache serve`; `env` holds KILN_SERVE_TOKENS and the like. */
export async function startKilnServer(env: Record<string, string> = {}, at: ServerPlace = {}): Promise<RunningServer> {
  const home = at.home ?? tempHome('kiln-serve-');
  const what = 'kiln cache serve';
  const s = launch(process.execPath, [KILN_MAIN, 'cache', 'serve', '--listen', `127.0.0.1:${at.port ?? 0}`, '--dir', home], { ...kilnEnv(), ...env });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${what} printed no URL within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
    s.child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    s.done.then((r) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${r.code ?? r.signal}:\n${outputTail(r)}`));
    }, reject);
  }).catch((e: unknown) => {
    killHard(s.child, true);
    throw e;
  });
  return handle(s, url, home, home, Number(new URL(url).port));
}

/** nginx with WebDAV PUTs under /ac/ and /cas/: a plain Bazel HTTP cache. */
export async function startNginx(at: ServerPlace = {}): Promise<RunningServer> {
  const prefix = at.home ?? tempHome('kiln-nginx-');
  const dataDir = path.join(prefix, 'data');
  for (const d of ['data', 'tmp', 'logs']) fs.mkdirSync(path.join(prefix, d), { recursive: true });
  const port = at.port ?? (await freePort());
  // As root, nginx workers drop to 'nobody' and could not write the data dir.
  const user = process.getuid?.() === 0 ? 'user root;' : '';
  fs.writeFileSync(
    path.join(prefix, 'nginx.conf'),
    `${user}
daemon off;
pid ${prefix}/nginx.pid;
worker_processes 1;
error_log stderr warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
  server {
    listen 127.0.0.1:${port};
    root ${dataDir};
    location /ac/ { dav_methods PUT DELETE; create_full_put_path on; client_max_body_size 1g; }
    location /cas/ { dav_methods PUT DELETE; create_full_put_path on; client_max_body_size 1g; }
  }
}
`,
  );
  const s = launch('nginx', ['-p', `${prefix}/`, '-c', `${prefix}/nginx.conf`, '-e', 'stderr'], kilnEnv());
  await waitForPort(port, s, 'nginx');
  return handle(s, `http://127.0.0.1:${port}/`, dataDir, prefix, port);
}

/** turborepo-remote-cache. `extraEnv`: e.g. TURBO_REMOTE_CACHE_SIGNATURE_KEY, without which the server stores no artifact tags. */
export async function startTurbo(token: string, extraEnv: Record<string, string> = {}, at: ServerPlace = {}): Promise<RunningServer> {
  if (!fs.existsSync(TURBO_CLI)) {
    throw new Error(`turborepo-remote-cache is not installed: run 'bash test/servers/install-turbo.sh' (npm test does)`);
  }
  const dataDir = at.home ?? tempHome('kiln-turbo-');
  const port = at.port ?? (await freePort());
  const env = {
    ...kilnEnv(),
    HOST: '127.0.0.1',
    PORT: String(port),
    TURBO_TOKEN: token,
    STORAGE_PROVIDER: 'local',
    STORAGE_PATH: dataDir,
    STORAGE_PATH_USE_TMP_FOLDER: 'false',
    LOG_LEVEL: 'error',
    ...extraEnv,
  };
  const s = launch(process.execPath, [TURBO_CLI], env);
  await waitForPort(port, s, 'turborepo-remote-cache');
  return handle(s, `http://127.0.0.1:${port}/`, dataDir, dataDir, port);
}

/** Debian's redis-server in the foreground on 127.0.0.1, no persistence: a cobuild's coordinator. */
export async function startRedis(at: ServerPlace = {}): Promise<RunningServer> {
  const home = at.home ?? tempHome('kiln-redis-');
  const port = at.port ?? (await freePort());
  const s = launch('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', home], { PATH: process.env.PATH ?? '/usr/bin:/bin' });
  await waitForPort(port, s, 'redis-server');
  return handle(s, `redis://127.0.0.1:${port}`, home, home, port);
}
