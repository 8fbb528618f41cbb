// A remote cache server that dies mid-build (SIGKILL, as an OOM kill or a
// crashed host would) and comes back on the same data and port. Machine A's
// build must go on locally after one warning, the server's store must hold
// nothing poisoned or partial, machine B (empty local cache) must get correct
// outputs from what survived, and once machine A builds again with the remote
// up, machine C must get everything as remote hits.
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateWorkspace, type GeneratedWorkspace } from '../bench/generate.js';
import { checkedSummary, startBuild } from '../bench/kiln.js';
import { copySources, differingOutputs, readOutputs } from '../bench/mutate.js';
import { killHard } from '../engine/proc.js';
import { referencedBlobs } from '../cache/local/action-index.js';
import { parseRemoteEntry } from '../cache/remote/entry.js';
import { sha256Hex } from '../engine/keys/hash/sha256.js';
import type { RunSummary } from '../engine/pipeline/summary.js';
import { buildWithSummary, statuses, tempDir } from './kiln.js';
import { startKilnServer, startNginx, type RunningServer, type ServerPlace } from './servers/start.js';

const TOKEN = 'kiln-faults-token';
const NODES = 40;
/** Each node sleeps this long on top of its sh/cat/cksum: ~50-70 ms per node. */
const SLEEP_MS = 40;
/** Each node's output, so an upload lasts long enough to be caught in flight. */
const OUTPUT_BYTES = 256 * 1024;
/** Once this many nodes of machine A have finished, the server is killed as soon as an upload is in flight (or after KILL_WAIT_MS). */
const KILL_AFTER = 10;
const KILL_WAIT_MS = 1000;
const UNAVAILABLE = /remote cache unavailable, continuing with the local cache only/g;

/** What a server's directory holds, checked file by file. */
interface Inspection {
  ac: number;
  cas: number;
  /** Files whose content is not what their name promises, entries naming absent blobs, files the index does not count. */
  poisoned: string[];
  /** Files outside the layout: half-written uploads or debris. */
  partial: string[];
  /** Files in the server's own temp dir (allowed). */
  temps: number;
  /** kiln's index rows whose file is gone (a documented, harmless miss). */
  danglingRows: number;
}

interface Layout {
  /** Path (relative to the server's home, posix) of a stored artifact: groups kind (ac|cas) and key. */
  artifact: RegExp;
  /** The server's temp dir, relative to its home. */
  tmp: string;
  /** The server's own bookkeeping files, relative to its home. */
  meta: RegExp;
  /** kiln's index.db, cross-checked against the files. */
  index?: string;
}

interface Server {
  name: string;
  layout: Layout;
  start(at?: ServerPlace): Promise<RunningServer>;
  env(s: RunningServer): Record<string, string>;
}

const SERVERS: Server[] = [
  {
    name: 'kiln cache serve',
    layout: {
      artifact: /^data\/(ac|cas)\/([0-9a-f]{2})\/([0-9a-f]{64})$/,
      tmp: 'tmp',
      meta: /^index\.db(-wal|-shm)?$/,
      index: 'index.db',
    },
    start: (at) => startKilnServer({ KILN_SERVE_TOKENS: TOKEN }, at),
    env: (s) => ({ KILN_REMOTE_CACHE: s.url, KILN_REMOTE_TOKEN: TOKEN }),
  },
  {
    name: 'nginx WebDAV',
    layout: {
      artifact: /^data\/(ac|cas)\/()([0-9a-f]{64})$/,
      tmp: 'tmp',
      meta: /^(nginx\.conf|nginx\.pid|logs\/.*)$/,
    },
    start: (at) => startNginx(at),
    env: (s) => ({ KILN_REMOTE_CACHE: s.url }),
  },
];

let reference: Map<string, Buffer | null>;
let sources: GeneratedWorkspace;

beforeAll(async () => {
  // The workspace every machine checks out, and what a clean build of it produces (no remote involved).
  sources = generateWorkspace(path.join(scratch('src'), 'ws'), { nodes: NODES, files: 2, sleepMs: SLEEP_MS, outputBytes: OUTPUT_BYTES, seed: 7 });
  const clean = checkout('clean');
  const r = await buildWithSummary(clean.dir, ['--logs', 'none'], { KILN_CACHE_DIR: scratch('cache') });
  expect(r.exitCode, r.stderr + r.stdout).toBe(0);
  expect(statuses(r.summary).built).toHaveLength(NODES);
  reference = readOutputs(clean);
});

afterAll(() => {
  for (const dir of scratchDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** Temp dirs of this file, removed at the end: each machine's checkout holds NODES x OUTPUT_BYTES. */
const scratchDirs: string[] = [];
function scratch(name: string): string {
  const dir = tempDir(`kiln-faults-${name}-`);
  scratchDirs.push(dir);
  return dir;
}

function checkout(name: string): GeneratedWorkspace {
  return copySources(sources, path.join(scratch(name), 'ws'));
}

/** Waits (polling) until the server has an upload in its temp dir, then SIGKILLs it. True if it caught one. */
async function killMidUpload(server: RunningServer, tmpDir: string): Promise<boolean> {
  const deadline = performance.now() + KILL_WAIT_MS;
  let caught = false;
  while (!caught && performance.now() < deadline) {
    caught = fs.existsSync(tmpDir) && fs.readdirSync(tmpDir, { recursive: true, withFileTypes: true }).some((e) => e.isFile());
    if (!caught) await sleep(1);
  }
  await server.kill();
  return caught;
}

function expectReferenceOutputs(ws: GeneratedWorkspace, label: string): void {
  expect(differingOutputs(reference, readOutputs(ws)), `${label}: nodes whose outputs differ from a clean build`).toEqual([]);
}

function countUnavailable(stdout: string): number {
  return stdout.match(UNAVAILABLE)?.length ?? 0;
}

describe.each(SERVERS)('$name killed mid-build and restarted on the same data and port', (server) => {
  let running: RunningServer | undefined;
  let a: GeneratedWorkspace;
  const aCache = scratch('a-cache');
  const figures: Record<string, string | number> = { nodes: NODES };

  afterAll(async () => {
    await running?.stop();
    console.log(`[remote-faults] ${server.name}: ${Object.entries(figures).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  });

  it('machine A builds everything, with one warning, while its remote is SIGKILLed', async () => {
    const first = await server.start({ home: scratch('server') });
    running = first;
    a = checkout('a');
    const summaryFile = path.join(scratch('summary'), 'a.json');
    const build = startBuild({ dir: a.dir, cacheDir: aCache, summaryFile, env: server.env(first) });
    // Kill once KILL_AFTER nodes are done; restart once kiln has noticed (or finished), so it cannot miss the outage.
    let out = '';
    let finished = 0;
    let killed: Promise<boolean> | undefined;
    let noticed!: () => void;
    const warned = new Promise<void>((resolve) => (noticed = resolve));
    build.child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      finished = out.match(/^\[\d+\/\d+\] (built|cached|failed|skipped) /gm)?.length ?? 0;
      if (finished >= KILL_AFTER && !killed) killed = killMidUpload(first, path.join(first.home, server.layout.tmp));
      if (countUnavailable(out) > 0) noticed();
    });
    try {
      await Promise.race([warned, build.done]);
      expect(killed, 'the build ended before the server was killed: make the nodes slower').toBeDefined();
      figures['killed mid-upload'] = (await killed) ? 'yes' : 'no';
      running = await server.start({ home: first.home, port: first.port });
      expect(running.url).toBe(first.url);
      const proc = await build.done;
      const summary: RunSummary = checkedSummary(proc, summaryFile, 'machine A');
      expect(statuses(summary).built).toHaveLength(NODES);
      expect(countUnavailable(proc.stdout), proc.stdout).toBe(1);
      // The transport error (ECONNREFUSED, ECONNRESET, EPIPE, ... depending on the moment), never an HTTP status.
      expect(proc.stdout).toMatch(new RegExp(`kiln: warning: remote cache unavailable, continuing with the local cache only: (GET|HEAD|PUT) http://127\\.0\\.0\\.1:${first.port}/\\S+: [A-Za-z_ ]+\n`));
      expect(summary.remote!.errors).toBeGreaterThanOrEqual(1);
      figures['uploads before the kill'] = summary.remote!.uploads;
      expect(summary.remote!.uploads).toBeLessThan(NODES);
      expectReferenceOutputs(a, 'machine A');
    } finally {
      killHard(build.child, true);
    }
  });

  it('the restarted server holds no poisoned entry and no partial file', () => {
    const seen = inspect(running!.home, server.layout);
    figures['entries on disk after restart'] = `${seen.ac} ac + ${seen.cas} cas`;
    figures.poisoned = seen.poisoned.length;
    figures.partial = seen.partial.length;
    figures['server temp files'] = seen.temps;
    if (server.layout.index) figures['index rows without file'] = seen.danglingRows;
    expect(seen.poisoned).toEqual([]);
    expect(seen.partial).toEqual([]);
    // kiln's server removes the temp files of a dead server when it starts (cache/server/README.md).
    if (server.layout.index) expect(seen.temps).toBe(0);
    expect(seen.ac).toBeGreaterThanOrEqual(figures['uploads before the kill'] as number);
  });

  it('machine B, with an empty local cache, gets what survived and rebuilds the rest, byte-identical', async () => {
    const b = checkout('b');
    // Read-only, as developer machines usually are: B must not be what repairs the remote.
    const r = await buildWithSummary(b.dir, ['--logs', 'none', '--remote-read-only'], { KILN_CACHE_DIR: scratch('b-cache'), ...server.env(running!) });
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    const hits = r.summary.nodes.filter((n) => n.status === 'cached' && n.cache === 'remote').length;
    const rebuilt = r.summary.nodes.filter((n) => n.status === 'built').length;
    figures['B hits/rebuilds'] = `${hits}/${rebuilt}`;
    expect(hits + rebuilt).toBe(NODES);
    expect(hits).toBeGreaterThan(0);
    expect(countUnavailable(r.stdout), r.stdout).toBe(0);
    expect(r.stdout).not.toMatch(/unusable/);
    expect(r.summary.remote).toMatchObject({ hits, misses: rebuilt, errors: 0, uploads: 0 });
    expectReferenceOutputs(b, 'machine B');
  });

  it('machine A builds again with the remote up and uploads what was lost; machine C gets everything as remote hits', async () => {
    const again = await buildWithSummary(a.dir, ['--logs', 'none'], { KILN_CACHE_DIR: aCache, ...server.env(running!) });
    expect(again.exitCode, again.stderr + again.stdout).toBe(0);
    expect(statuses(again.summary).cached).toHaveLength(NODES);
    figures['A uploads on the second build'] = again.summary.remote!.uploads;
    expect(countUnavailable(again.stdout), again.stdout).toBe(0);
    // Exactly what the first build built but never got acknowledged by the remote (the upload in flight at the kill included).
    expect(again.summary.remote).toMatchObject({ uploads: NODES - (figures['uploads before the kill'] as number), errors: 0 });

    const c = checkout('c');
    const r = await buildWithSummary(c.dir, ['--logs', 'none', '--remote-read-only'], { KILN_CACHE_DIR: scratch('c-cache'), ...server.env(running!) });
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    const hits = r.summary.nodes.filter((n) => n.status === 'cached' && n.cache === 'remote').length;
    figures['C hits'] = hits;
    expectReferenceOutputs(c, 'machine C');
    const seen = inspect(running!.home, server.layout);
    expect(seen.poisoned).toEqual([]);
    expect(statuses(r.summary).built, 'nodes machine C had to build: machine A did not re-upload them').toEqual([]);
    expect(hits).toBe(NODES);
    expect(r.summary.remote).toMatchObject({ hits: NODES, misses: 0, errors: 0 });
  });
});

/** Walks a server's home: every artifact checked against its name, every other file accounted for. */
function inspect(home: string, layout: Layout): Inspection {
  const seen: Inspection = { ac: 0, cas: 0, poisoned: [], partial: [], temps: 0, danglingRows: 0 };
  const files = fs
    .readdirSync(home, { recursive: true, withFileTypes: true })
    .filter((e) => !e.isDirectory())
    .map((e) => path.relative(home, path.join(e.parentPath, e.name)).split(path.sep).join('/'));
  const artifacts = new Map<string, { kind: 'ac' | 'cas'; key: string; rel: string }>();
  for (const rel of files) {
    const m = layout.artifact.exec(rel);
    if (m && (m[2] === '' || m[2] === m[3]!.slice(0, 2))) artifacts.set(`${m[1]}/${m[3]}`, { kind: m[1] as 'ac' | 'cas', key: m[3]!, rel });
    else if (rel.startsWith(`${layout.tmp}/`)) seen.temps++;
    else if (!layout.meta.test(rel)) seen.partial.push(rel);
  }
  for (const { kind, key, rel } of artifacts.values()) {
    const bytes = fs.readFileSync(path.join(home, rel));
    if (kind === 'cas') {
      seen.cas++;
      if (sha256Hex(bytes) !== key) seen.poisoned.push(`${rel}: content hashes to ${sha256Hex(bytes).slice(0, 12)}`);
      continue;
    }
    seen.ac++;
    try {
      const missing = referencedBlobs(parseRemoteEntry(bytes, key)).filter((b) => !artifacts.has(`cas/${b.digest}`));
      if (missing.length > 0) seen.poisoned.push(`${rel}: names blob ${missing[0]!.digest} the server does not have`);
    } catch (e) {
      seen.poisoned.push(`${rel}: ${(e as Error).message}`);
    }
  }
  if (layout.index) {
    const db = new Database(path.join(home, layout.index), { readonly: true, fileMustExist: true });
    try {
      const rows = db.prepare('SELECT namespace, key, size FROM entries').all() as { namespace: string; key: string; size: number }[];
      const indexed = new Map(rows.map((r) => [`${r.namespace}/${r.key}`, r.size]));
      for (const [id, { rel }] of artifacts) {
        const size = fs.statSync(path.join(home, rel)).size;
        if (indexed.get(id) !== size) seen.poisoned.push(`${rel}: ${indexed.has(id) ? `indexed as ${indexed.get(id)} bytes, is ${size}` : 'not in the index'}`);
      }
      seen.danglingRows = rows.filter((r) => !artifacts.has(`${r.namespace}/${r.key}`)).length;
    } finally {
      db.close();
    }
  }
  return seen;
}
