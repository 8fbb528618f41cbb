import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { memoSources } from '../buildfile/snapshot.js';
import { loadSpec, type WorkspaceSpec } from '../workspace-spec.js';
import type { NodeDecl, Workspace } from '../buildfile/types.js';
import { stampPaths } from '../keys/stamps.js';
import { RunHistory } from '../state/history.js';
import { NodeStates, type NodeState } from '../state/node-states.js';
import { openStateDb } from '../state/state-db.js';
import { daemonInfoFile, STATE_DIR } from '../state/state-dir.js';
import { selectTargets } from '../graph/targets.js';
import { proveByHashing, settleByStamps, stampCheckable } from '../keys/up-to-date.js';
import { excludedProducts } from '../keys/write-scan.js';
import { RACY_MARGIN_MS } from '../keys/stamps.js';
import { StatCache } from '../keys/hash/stat-cache.js';
import { initXxhash } from '../keys/hash/xxhash.js';
import { rules } from '../../rules/index.js';
import { createProgress } from '../progress/progress.js';
import { answerUpToDate } from './answer.js';
import {
  codeStamp, ownSocketPath, readDaemonInfo, type BuildRequest, type DaemonInfo, type Request, type Response,
} from './protocol.js';
import { Touches, WORKSPACE } from './touches.js';
import { WatchSet, type Relevant } from './watch-set.js';
import { nodeIndex } from '../graph/node-index.js';

/** How often a daemon checks that clients can still find it. */
const FINDABLE_CHECK_MS = 5_000;

/** What the daemon last proved: a workspace, its node states, the nodes up to date, and the env it proved them with. */
interface Proof {
  ws: Workspace;
  byId: ReadonlyMap<string, NodeDecl>;
  states: Map<string, NodeState>;
  proven: Set<string>;
  env: NodeJS.ProcessEnv;
  globs: { pattern: string; matches: string[] }[];
  touches: Touches;
  /**
   * Whether the daemon may run builds of this workspace itself: every node
   * is stamp-checkable. A resolve step (git fetches, patch series) or a
   * toolchain probe reads the daemon's own environment and state, not the
   * client's: those workspaces build in the client.
   */
  buildable: boolean;
}

/**
 * A resident process per workspace (like the nx daemon or Bazel's server)
 * that answers no-op builds without stat-ing anything: it proves nodes up to
 * date by their stamps once, watches exactly the directories those proofs
 * depend on, and as long as no relevant change was seen, a build of proven
 * nodes is answered from memory. Anything it cannot vouch for is declined
 * and the client builds as usual, then tells the daemon to prove again.
 */
export class Daemon {
  private readonly code = codeStamp();
  private db: Database.Database | undefined;
  private history: RunHistory | undefined;
  private nodeStates: NodeStates | undefined;
  private readonly watch: WatchSet;
  private proof: Proof | undefined;
  private notReady: string | null = 'not proven yet';
  private proving = 0;
  /** Requests and proofs run one at a time, in arrival order. */
  private queue: Promise<unknown> = Promise.resolve();
  private answered = 0;
  private built = 0;
  /** Nodes the last proof stamped by hashing (the next proof proves them by those stamps). */
  private restampedLast = new Set<string>();
  /** A build is running in this process (requests queue behind it). */
  private building = false;
  private retiring = false;
  private provePending = false;
  private declined = 0;
  private server: net.Server | undefined;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly spec: WorkspaceSpec,
    private readonly idleMs: number,
  ) {
    this.watch = new WatchSet(path.dirname(spec.rootFile), STATE_DIR);
  }

  private get root(): string {
    return path.dirname(this.spec.rootFile);
  }

  /** Listens, writes the daemon info file that clients look for, and starts proving the workspace with `env`. */
  async start(env: NodeJS.ProcessEnv): Promise<void> {
    await initXxhash(); // proofs may hash inputs a build could not stamp
    const socket = ownSocketPath(this.root);
    fs.mkdirSync(path.dirname(socket), { recursive: true, mode: 0o700 });
    fs.rmSync(socket, { force: true }); // a dead daemon's socket (its pid reused)
    this.server = net.createServer((conn) => this.onConnection(conn));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(socket, () => resolve());
    });
    const info: DaemonInfo = { pid: process.pid, socket, code: this.code };
    const file = daemonInfoFile(this.root);
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(info));
    fs.renameSync(`${file}.tmp`, file);
    this.proveInBackground(env);
    this.touch();
    // Clients find a daemon through .kiln/daemon.json: once that is gone (.kiln removed, the workspace
    // deleted, another daemon started), no client can reach this one and it only holds watches.
    setInterval(() => {
      if (this.findable()) return;
      this.stop();
      process.exit(0);
    }, FINDABLE_CHECK_MS).unref();
  }

  /** Whether clients can still find this daemon (someone may have removed .kiln, or started another). */
  private findable(): boolean {
    return readDaemonInfo(this.root)?.pid === process.pid;
  }

  stop(): void {
    clearTimeout(this.idleTimer);
    this.server?.close();
    // The info file is the workspace's: only the daemon clients can find may remove it. The socket is ours alone.
    if (this.findable()) fs.rmSync(daemonInfoFile(this.root), { force: true });
    fs.rmSync(ownSocketPath(this.root), { force: true });
    this.watch.close();
    this.db?.close();
  }

  private touch(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.stop();
      process.exit(0);
    }, this.idleMs);
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private onConnection(conn: net.Socket): void {
    let data = '';
    conn.setEncoding('utf8');
    conn.on('error', () => undefined);
    conn.on('data', (chunk: string) => {
      data += chunk;
      const nl = data.indexOf('\n');
      if (nl < 0) return;
      conn.removeAllListeners('data');
      let request: Request;
      try {
        request = JSON.parse(data.slice(0, nl)) as Request;
      } catch {
        conn.end(`${JSON.stringify({ kind: 'declined', reason: 'unreadable request' } satisfies Response)}\n`);
        return;
      }
      this.touch();
      // A client that goes away (Ctrl-C) cancels the build the daemon runs for it.
      const cancel = new AbortController();
      conn.on('close', () => cancel.abort());
      const send = (r: Response) => {
        if (!conn.destroyed) conn.write(`${JSON.stringify(r)}\n`);
      };
      void this.handle(request, send, cancel.signal).then(
        (response) => {
          conn.end(`${JSON.stringify(response)}\n`);
          if (request.kind === 'stop' || this.retiring) {
            this.stop();
            process.exit(0);
          }
        },
        (e: unknown) => conn.end(`${JSON.stringify({ kind: 'declined', reason: `daemon error: ${(e as Error).message}` } satisfies Response)}\n`),
      );
    });
  }

  private async handle(request: Request, send: (r: Response) => void, signal: AbortSignal): Promise<Response> {
    switch (request.kind) {
      case 'build':
        // Behind a build the daemon runs, a client would time out waiting for its first line.
        if (this.building) send({ kind: 'output', text: 'kiln: waiting for the build the daemon is running\n' });
        return this.enqueue(() => this.answer(request, send, signal));
      case 'rebuilt':
        // Proven in the background: the client that sent this is done and exits.
        this.proveInBackground(request.env);
        return { kind: 'ok' };
      case 'status':
        return {
          kind: 'status',
          status: {
            pid: process.pid,
            root: this.root,
            proven: this.proof?.proven.size ?? 0,
            total: this.proof?.ws.nodes.length ?? 0,
            watchedDirs: this.watch.size,
            proving: this.proving > 0,
            notReady: this.notReady ?? this.watch.dirty,
            answered: this.answered,
            built: this.built,
            declined: this.declined,
          },
        };
      case 'stop':
        return { kind: 'ok' };
    }
  }

  /**
   * Watches first, then drains events, then stats: a change made before the
   * stats is seen by them, one made after is seen by the watches.
   */
  private async prove(env: NodeJS.ProcessEnv): Promise<void> {
    this.proof = undefined;
    if (!this.findable()) {
      this.stop();
      process.exit(0);
    }
    // Opened afresh: the state dir may have been removed and recreated since the last proof.
    this.db?.close();
    this.db = openStateDb(this.root);
    this.history = new RunHistory(this.db);
    this.nodeStates = new NodeStates(this.db);
    const loaded = await loadSpec(this.spec);
    if (!loaded.ok) {
      this.notReady = 'the build files do not load; a build will report why';
      return;
    }
    const ws = loaded.value;
    const sources = memoSources(this.root, STATE_DIR);
    if (!sources) {
      this.notReady = 'the workspace memo is unreadable';
      return;
    }
    const states = this.nodeStates.load();
    const { plan, unwatchable, touches } = watchPlan(ws, states, sources);
    this.watch.replace(plan);
    if (!(await this.watch.sync())) {
      this.notReady = 'file events are not arriving';
      return;
    }
    this.watch.reset();
    const byId = nodeIndex(ws);
    // Nodes a build found up to date while their inputs were too fresh to stamp are checked here by hashing
    // and stamped; if still too fresh, the proof is repeated once they are not. A stamped node is proven by
    // the next proof, whose watch plan covers its inputs (this one's could not: it had no stamp to plan from).
    const stats = new StatCache(this.db);
    let racy = false;
    const restamped = new Set<string>();
    const proven = settleByStamps(ws.nodes.map((n) => n.id), byId, states, ws.root, env, rules, {
      allowed: (n) => !unwatchable.has(n.id),
      settled: () => undefined,
      fallback: (node, known, depDigests) => {
        // Stamped by the previous proof yet failing its stamp again: left to builds (no proof loop).
        if (this.restampedLast.has(node.id)) return false;
        const products = excludedProducts(node, known.written, (id) => states.get(id)?.written);
        const fresh = proveByHashing(ws.root, node, known, depDigests, env, stats, products);
        if (!fresh) return false;
        if (fresh.inputStamp === null) {
          racy = true;
          return false;
        }
        this.nodeStates!.restamp(node.id, fresh.inputStamp, fresh.context);
        restamped.add(node.id);
        return false;
      },
    });
    stats.flush();
    this.restampedLast = restamped;
    if (restamped.size > 0) this.proveInBackground(env);
    else if (racy) this.proveLater(env);
    const buildable = ws.nodes.every((n) => stampCheckable(n, rules.get(n.rule)!));
    this.proof = { ws, byId, states, proven, env, globs: sources.globs, touches, buildable };
    this.notReady = null;
  }

  /** Proves again once inputs written just now are past the racy margin. */
  private proveLater(env: NodeJS.ProcessEnv): void {
    if (this.provePending) return;
    this.provePending = true;
    this.proving++;
    setTimeout(() => {
      this.provePending = false;
      this.proving--;
      this.proveInBackground(env);
    }, RACY_MARGIN_MS + 50);
  }

  /**
   * Queues a proof. A proof that fails (a bug, a disk error) leaves the
   * daemon declining everything with the reason, never crashed: clients then
   * simply build.
   */
  private proveInBackground(env: NodeJS.ProcessEnv): void {
    this.proving++;
    void this.enqueue(() => this.prove(env))
      .catch((e: unknown) => {
        this.proof = undefined;
        this.notReady = `the last proof failed: ${(e as Error).message}`;
        process.stderr.write(`kiln daemon: proof failed: ${(e as Error).stack ?? String(e)}\n`);
      })
      .finally(() => this.proving--);
  }

  private async answer(req: BuildRequest, send: (r: Response) => void, signal: AbortSignal): Promise<Response> {
    const decline = (reason: string, vouched?: Record<string, string>): Response => {
      this.declined++;
      return { kind: 'declined', reason, ...(vouched ? { vouched } : {}) };
    };
    if (JSON.stringify(req.spec) !== JSON.stringify(this.spec)) return decline('the daemon serves another workspace spec (kiln.yaml or --npm flags)');
    if (req.code !== this.code) {
      this.retiring = true; // a daemon of another kiln build only gets in the way: it exits after this answer
      return decline('the daemon runs other kiln code; it exits now');
    }
    const proof = this.proof;
    if (!proof || this.notReady) return decline(this.notReady ?? 'not proven');
    if (!(await this.watch.sync())) return decline('file events are not arriving');
    if (proof.globs.length > 0) {
      const { matchIncludeGlob } = await import('../buildfile/include.js');
      if (proof.globs.some((g) => matchIncludeGlob(this.root, g.pattern).join('\n') !== g.matches.join('\n'))) {
        return decline('the build files an include glob matches changed');
      }
    }
    // Declining, the daemon still vouches for the proven nodes no change touched (by their keys):
    // the client's build then skips their stats and checks only what is not on disk (env, deps' outputs).
    const changes = this.watch.changes();
    const touched = changes === null ? WORKSPACE : proof.touches.touched(changes);
    if (touched === WORKSPACE) return decline(this.watch.dirty ?? 'the workspace changed');
    const vouched = () =>
      Object.fromEntries([...proof.proven].filter((id) => !touched.has(id)).map((id) => [id, proof.states.get(id)!.key]));
    if (proof.ws.remote || req.env.KILN_REMOTE_CACHE) return decline('a remote cache is configured', vouched());
    const selected = selectTargets(proof.ws, req.targets);
    if (!selected.ok) return decline('the targets do not select');
    // Selection includes every dep: a node no change touched whose deps are untouched is what the proof saw.
    const stale = [...selected.value].find(
      (id) => !proof.proven.has(id) || touched.has(id) || envDiffers(proof.byId.get(id)!, req.env, proof.env),
    );
    if (stale === undefined) {
      this.answered++;
      return { kind: 'answer', ...(await answerUpToDate(proof.ws, selected.value, proof.states, req, this.history!)) };
    }
    if (!proof.buildable) return decline(`'${stale}' is not up to date, and nodes with a resolve step or toolchain build in the client`, vouched());
    return this.buildHere(req, proof, selected.value, new Map(Object.entries(vouched())), send, signal);
  }

  /**
   * Runs the build in this process, as the client would have, streaming its
   * terminal output: the engine is loaded and the untouched nodes are
   * vouched for, so an edit costs the client a node start plus the work
   * the edit needs. Then proves the workspace again (queued behind it).
   */
  private async buildHere(
    req: BuildRequest,
    proof: Proof,
    selected: Set<string>,
    vouched: Map<string, string>,
    send: (r: Response) => void,
    signal: AbortSignal,
  ): Promise<Response> {
    const { runBuild } = await import('../pipeline/run-build.js');
    const report = createProgress({ live: req.live, logs: req.logs, out: { write: (text) => send({ kind: 'output', text }), columns: req.columns } });
    this.answered++;
    this.built++;
    this.building = true;
    try {
      const outcome = await runBuild(
        proof.ws,
        {
          selected, jobs: req.jobs, keepGoing: req.keepGoing, dryRun: false, replayLogs: req.logs === 'full', cacheDir: req.cacheDir, env: req.env, signal,
          command: 'build', args: req.args, offline: false, overrides: new Map(), vouched,
          ...(req.summary ? { summaryFile: req.summary } : {}),
        },
        report,
      );
      return { kind: 'answer', exitCode: signal.aborted ? 130 : outcome.exitCode, stdout: '' };
    } finally {
      this.building = false;
      this.proveInBackground(req.env);
    }
  }
}

/** Whether a declared env var of the node has another value in the client's env than in the proof's. */
function envDiffers(node: NodeDecl, env: NodeJS.ProcessEnv, proofEnv: NodeJS.ProcessEnv): boolean {
  return [...node.env, ...node.secretEnv].some((name) => env[name] !== proofEnv[name]);
}

/**
 * The directories the proofs depend on: each stamped directory (all its
 * entries), the parent of each stamped file (that name), and the parent of
 * each build file.
 */
function watchPlan(
  ws: Workspace,
  states: ReadonlyMap<string, NodeState>,
  sources: NonNullable<ReturnType<typeof memoSources>>,
): { plan: Map<string, Relevant>; unwatchable: Set<string>; touches: Touches } {
  const plan = new Map<string, Relevant>();
  const unwatchable = new Set<string>();
  const touches = new Touches();
  const add = (owner: string, rel: string, isDir: boolean) => {
    const norm = path.posix.normalize(rel === '' ? '.' : rel);
    const dir = isDir ? norm : path.posix.dirname(norm);
    const key = dir === '.' ? '' : dir;
    const have = plan.get(key);
    if (isDir) plan.set(key, 'all');
    else if (have !== 'all') plan.set(key, new Set([...(have ?? []), path.posix.basename(norm)]));
    touches.add(owner, key, isDir ? '*' : path.posix.basename(norm));
  };
  // What the workspace memo relies on: build files (and package.json files), files that must stay absent, listed dirs.
  for (const f of [...sources.files, ...sources.absent]) add(WORKSPACE, f, false);
  for (const d of sources.dirs) add(WORKSPACE, d, true);
  for (const n of ws.nodes) {
    const s = states.get(n.id);
    if (!s || s.inputStamp === null) continue;
    const inputs = stampPaths(s.inputStamp);
    const paths = [...inputs, ...stampPaths(s.fingerprint)].map((p) => ({ rel: path.posix.join(n.dir, p.rel), isDir: p.isDir }));
    // A traced node's programs outside the workspace (its toolchain): no watch here would see them change.
    if (paths.some((p) => p.rel === '..' || p.rel.startsWith('../'))) {
      unwatchable.add(n.id);
      continue;
    }
    for (const p of paths) add(n.id, p.rel, p.isDir);
    if (inputs.some((p) => !p.isDir && changesElsewhere(path.join(ws.root, n.dir, p.rel)))) unwatchable.add(n.id);
  }
  return { plan, unwatchable, touches };
}

/**
 * An input whose bytes can change through another path: a symlink (its
 * target's directory is not watched) or a file with other hard links
 * (inotify reports a write to the directory of the path written through).
 */
function changesElsewhere(abs: string): boolean {
  try {
    const st = fs.lstatSync(abs);
    return st.isSymbolicLink() || st.nlink > 1;
  } catch {
    return false; // missing: its parent's watch sees it appear
  }
}
