// Starts the real cache servers the remote tests talk to, each on a free
// 127.0.0.1 port under a temp dir: kiln's own server, nginx with WebDAV (the
// Bazel HTTP cache as many teams run it), and turborepo-remote-cache.
import { execa, type ResultPromise } from 'execa';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KILN_MAIN, tempDir } from '../kiln.js';

export interface RunningServer {
  url: string;
  /** Where the server keeps its data (to tamper with it in tests). */
  dataDir: string;
  stop(): Promise<void>;
}

const TURBO_CLI = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  'turbo/node_modules/turborepo-remote-cache/dist/cli.js',
);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** Polls until the port accepts connections (or the process died). */
async function waitForPort(port: number, child: ResultPromise, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited early (code ${child.exitCode})`);
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not listen on ${port} within 20 s`);
}

function stopper(child: ResultPromise): () => Promise<void> {
  return async () => {
    child.kill('SIGTERM');
    await child.catch(() => undefined);
  };
}

export async function startKilnServer(env: Record<string, string> = {}): Promise<RunningServer> {
  const dataDir = tempDir('kiln-serve-');
  const child = execa('node', [KILN_MAIN, 'cache', 'serve', '--listen', '127.0.0.1:0', '--dir', dataDir], {
    env: { ...env },
    reject: false,
    buffer: false,
    stdin: 'ignore',
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`kiln cache serve exited with ${code}`)));
  });
  return { url, dataDir, stop: stopper(child) };
}

export async function startNginx(): Promise<RunningServer> {
  const prefix = tempDir('kiln-nginx-');
  const dataDir = path.join(prefix, 'data');
  for (const d of ['data', 'tmp', 'logs']) fs.mkdirSync(path.join(prefix, d));
  const port = await freePort();
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
  const child = execa('nginx', ['-p', `${prefix}/`, '-c', `${prefix}/nginx.conf`, '-e', 'stderr'], {
    reject: false,
    stdin: 'ignore',
  });
  await waitForPort(port, child, 'nginx');
  return { url: `http://127.0.0.1:${port}/`, dataDir, stop: stopper(child) };
}

/** `extraEnv`: e.g. TURBO_REMOTE_CACHE_SIGNATURE_KEY, without which the server stores no artifact tags. */
export async function startTurbo(token: string, extraEnv: Record<string, string> = {}): Promise<RunningServer> {
  if (!fs.existsSync(TURBO_CLI)) {
    throw new Error(`turborepo-remote-cache is not installed: run 'bash test/servers/install-turbo.sh' (npm test does)`);
  }
  const dataDir = tempDir('kiln-turbo-');
  const port = await freePort();
  const child = execa('node', [TURBO_CLI], {
    env: {
      HOST: '127.0.0.1',
      PORT: String(port),
      TURBO_TOKEN: token,
      STORAGE_PROVIDER: 'local',
      STORAGE_PATH: dataDir,
      STORAGE_PATH_USE_TMP_FOLDER: 'false',
      LOG_LEVEL: 'error',
      ...extraEnv,
    },
    reject: false,
    stdin: 'ignore',
  });
  await waitForPort(port, child, 'turborepo-remote-cache');
  return { url: `http://127.0.0.1:${port}/`, dataDir, stop: stopper(child) };
}
