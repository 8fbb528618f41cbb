import { createRequire } from 'node:module';
import os from 'node:os';
import type { Redis as RedisClient } from 'ioredis';

/**
 * A lease lives this long unless its holder renews it (every third of it):
 * an agent killed mid-node loses its nodes this soon. KILN_COBUILD_LEASE_SECONDS
 * changes it (a slow Redis, a test).
 */
const LEASE_MS = Math.max(1, Number(process.env.KILN_COBUILD_LEASE_SECONDS) || 15) * 1000;
const RENEW_MS = LEASE_MS / 3;
/** Results and failures outlive any CI run of their cobuild ID, not much more. */
const OUTCOME_TTL_S = 24 * 3600;
const CONNECT_TIMEOUT_MS = 3_000;

/** What the agent that built a node says of it, for the agents that waited. */
export type CobuildOutcome = { ok: true; agent: string } | { ok: false; agent: string; message: string; log: string };

/** Renews a lease the caller holds until it calls the function it got back. */
export type Release = () => void;

/** Lease (KEYS[1]) unless an outcome (KEYS[2]) is recorded and ARGV[3] does not say to claim anyway: 1 taken by us, 2 done, 0 held. */
const CLAIM = `if ARGV[3] ~= '1' and redis.call('exists', KEYS[2]) == 1 then return 2 end
if redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return 1 end
return 0`;

/** Extend a lease only if this agent still holds it: a lease that expired and was taken is someone else's. */
const RENEW_IF_MINE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

/** Drop a lease only if this agent still holds it, for the same reason. */
const RELEASE_IF_MINE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/**
 * One build shared by several agents (`kiln build --cobuild ID`), coordinated
 * through Redis: an agent claims a node's key before running it (a lease with
 * an expiry it renews while the node runs), others wait for the outcome it
 * records and restore its outputs from the remote cache. Everything is keyed
 * by the cobuild ID and the node's *key*: agents at another commit (other
 * keys for the same ids) never see each other's claims or results. Redis
 * going away mid-build makes every call answer "build it yourself", with one
 * warning: never a hang, never a wrong output.
 */
export class Cobuild {
  private broken = false;
  /** Waiters by node key, woken when an agent records that node's outcome (a message on the cobuild's channel). */
  private readonly waiters = new Map<string, Set<() => void>>();

  private constructor(
    private readonly redis: RedisClient,
    private readonly sub: RedisClient,
    private readonly id: string,
    readonly agent: string,
    private readonly warn: (message: string) => void,
  ) {
    sub.on('message', (_channel: string, nodeKey: string) => {
      for (const wake of this.waiters.get(nodeKey) ?? []) wake();
    });
  }

  /** What every Redis key of this cobuild starts with: agents of another cobuild ID never see them. */
  private get prefix(): string {
    return `kiln:cobuild:${this.id}:`;
  }

  private get channel(): string {
    return `${this.prefix}finished`;
  }

  /** Connects, or warns once (ending with what happens instead, `unreachable`) and gives undefined. */
  static async connect(url: string, id: string, warn: (message: string) => void, unreachable = 'building alone'): Promise<Cobuild | undefined> {
    // ioredis loads only for a cobuild: outside the CLI bundle, like the YAML parsers.
    const { Redis } = createRequire(import.meta.url)('ioredis') as typeof import('ioredis');
    const redis = new Redis(url, { lazyConnect: true, connectTimeout: CONNECT_TIMEOUT_MS, maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy: () => null });
    redis.on('error', () => undefined); // reported once, through the calls that fail
    try {
      await redis.connect();
      await redis.ping();
    } catch (e) {
      redis.disconnect();
      warn(`cobuild: cannot reach Redis at ${redactUrl(url)} (${(e as Error).message})${unreachable ? `: ${unreachable}` : ''}`);
      return undefined;
    }
    const agent = process.env.KILN_AGENT || `${os.hostname()}:${process.pid}`;
    // A second connection listens for outcomes, so a waiting agent moves on at once instead of at its next poll.
    const sub = redis.duplicate();
    sub.on('error', () => undefined);
    const cobuild = new Cobuild(redis, sub, id, agent, warn);
    try {
      await sub.subscribe(cobuild.channel);
    } catch {
      // polling alone still works
    }
    return cobuild;
  }

  /** Resolves when an agent records the outcome of `nodeKey`, or after `ms` (a waiter polls anyway: a lease may lapse). */
  news(nodeKey: string, ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let waiting = this.waiters.get(nodeKey);
      if (!waiting) this.waiters.set(nodeKey, (waiting = new Set()));
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        waiting.delete(done);
        if (waiting.size === 0) this.waiters.delete(nodeKey);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      waiting.add(done);
    });
  }

  private key(nodeKey: string, what: 'lease' | 'outcome'): string {
    return `${this.prefix}${nodeKey}:${what}`;
  }

  /** A Redis call, or once one failed (see lost) `yourself`: the answer that has this agent do the work. */
  private async call<T>(yourself: T, work: () => Promise<T>): Promise<T> {
    if (this.broken) return yourself;
    try {
      return await work();
    } catch (e) {
      this.lost(e);
      return yourself;
    }
  }

  /** A failed Redis call: one warning for the build, then every answer says "yourself". */
  private lost(e: unknown): void {
    if (this.broken) return;
    this.broken = true;
    this.warn(`cobuild: Redis failed (${(e as Error).message}): building the rest alone`);
  }

  /**
   * Takes the lease on a node's key, in one step with the check that no agent
   * recorded an outcome yet (an agent that finished has dropped its lease):
   * `mine` when this agent is to build it (or Redis is gone), `taken` when
   * another holds it, `done` when another finished it. `again` takes it even
   * when done: the result it recorded proved not to be in the remote cache.
   */
  claim(nodeKey: string, again = false): Promise<'mine' | 'taken' | 'done'> {
    return this.call<'mine' | 'taken' | 'done'>('mine', async () => {
      const r = await this.redis.eval(CLAIM, 2, this.key(nodeKey, 'lease'), this.key(nodeKey, 'outcome'), this.agent, String(LEASE_MS), again ? '1' : '0');
      return r === 1 ? 'mine' : r === 2 ? 'done' : 'taken';
    });
  }

  /** Keeps a claimed lease alive while the node runs. */
  hold(nodeKey: string): Release {
    const timer = setInterval(() => {
      if (this.broken) return;
      this.redis.eval(RENEW_IF_MINE, 1, this.key(nodeKey, 'lease'), this.agent, String(LEASE_MS)).catch((e: unknown) => this.lost(e));
    }, RENEW_MS);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Who holds the lease now (undefined: nobody; its holder finished, or died and it expired). */
  holder(nodeKey: string): Promise<string | undefined> {
    return this.call(undefined, async () => (await this.redis.get(this.key(nodeKey, 'lease'))) ?? undefined);
  }

  /** Records how a node this agent built ended, and drops its lease. */
  finish(nodeKey: string, outcome: CobuildOutcome): Promise<void> {
    return this.call(undefined, async () => {
      await this.redis.set(this.key(nodeKey, 'outcome'), JSON.stringify(outcome), 'EX', OUTCOME_TTL_S);
      await this.redis.eval(RELEASE_IF_MINE, 1, this.key(nodeKey, 'lease'), this.agent);
      await this.redis.publish(this.channel, nodeKey);
    });
  }

  /** How another agent's node ended, once it has. */
  outcome(nodeKey: string): Promise<CobuildOutcome | undefined> {
    return this.call(undefined, async () => {
      const raw = await this.redis.get(this.key(nodeKey, 'outcome'));
      return raw ? (JSON.parse(raw) as CobuildOutcome) : undefined;
    });
  }

  /** Leaves this agent's trace of the build (Chrome trace JSON) for `kiln trace --cobuild` to merge with the others'. */
  publishTrace(json: string): Promise<void> {
    return this.call(undefined, async () => {
      await this.redis.set(`${this.prefix}trace:${this.agent}`, json, 'EX', OUTCOME_TTL_S);
    });
  }

  /** Every agent's trace of the cobuild, by agent. */
  async traces(): Promise<Map<string, string>> {
    const prefix = `${this.prefix}trace:`;
    const out = new Map<string, string>();
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 100);
      cursor = next;
      for (const key of keys) {
        const json = await this.redis.get(key);
        if (json) out.set(key.slice(prefix.length), json);
      }
    } while (cursor !== '0');
    return out;
  }

  /** How often a waiting agent looks without being woken: a lease that lapses is seen within a third of its time. */
  get pollMs(): number {
    return RENEW_MS;
  }

  /** Whether Redis failed during this build (every agent then builds what it needs). */
  get alone(): boolean {
    return this.broken;
  }

  close(): void {
    this.sub.disconnect();
    this.redis.disconnect();
  }
}

/** The URL without a password, for messages. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'the configured URL';
  }
}
