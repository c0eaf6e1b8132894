import type { Redis, RedisOptions } from 'ioredis';
import type { RateLimiterRes } from 'rate-limiter-flexible';
import BurstyRateLimiter from 'rate-limiter-flexible/lib/BurstyRateLimiter.js';
import RateLimiterMemory from 'rate-limiter-flexible/lib/RateLimiterMemory.js';
import RateLimiterRedis from 'rate-limiter-flexible/lib/RateLimiterRedis.js';
import type { Logger } from '../../log.js';
import type { RateLimitSettings } from '../../config/kinds/mesh-config.js';
import type { RateLimitSecrets } from '../../config/rate-limit-secrets.js';
import { consumeOne, createMemoryLimiter, type Consumed, type LimitSpec } from './limit-spec.js';
import { createLimiterCache, type LimiterCache } from './limiter-cache.js';

// Where a worker counts: Local limits in its own memory (one worker) or at the primary (several,
// so `--workers` does not multiply a limit); Global limits in Redis, every replica together.
// When Redis or the primary cannot answer in time, a local limiter stands in (fail open: the
// library's insurance limiter for Redis) or the request fails with RLSE (failClosed).
// ioredis is imported only when a Global policy needs it (workers without one never load it);
// until it has loaded, Global requests take that same fallback, as when Redis is not connected.

export interface RateLimitBackend {
  readonly settings: RateLimitSettings;
  readonly secrets?: RateLimitSecrets;
  /** Some Global policy counts in Redis: without one, no connection is opened. */
  readonly inUse: boolean;
}

export interface RateLimitBackends {
  /** Applies a snapshot's settings; a changed Redis backend gets a new client. */
  configure(backend: RateLimitBackend): void;
  consume(limit: LimitSpec, global: boolean, key: string): Promise<Consumed>;
  /** The primary's answer to a shared Local limit. */
  onResult(id: number, result: Consumed): void;
  close(): Promise<void>;
}

export interface RateLimitBackendsOptions {
  readonly workers: number;
  readonly logger: Logger;
  /** Sends a `rate-limit` request to the primary. */
  readonly ask: (id: number, limit: LimitSpec, key: string) => void;
}

/** The primary answers in microseconds; this only bounds a primary too busy to answer at all. */
const primaryTimeoutMs = 1000;
const failed: Consumed = Object.freeze({ decision: 'error', remaining: 0, resetMs: 0 });

/** The library's insurance limiter, marking what it decided so the filter can count it as degraded. */
class InsuranceLimiter extends RateLimiterMemory {
  override async consume(key: string | number, points?: number, options?: Record<string, unknown>): Promise<RateLimiterRes> {
    try {
      return markDegraded(await super.consume(key, points, options));
    } catch (err) {
      throw markDegraded(err);
    }
  }
}

function markDegraded<T>(value: T): T {
  if (typeof value === 'object' && value !== null) (value as { degraded?: boolean }).degraded = true;
  return value;
}

export function createRateLimitBackends(options: RateLimitBackendsOptions): RateLimitBackends {
  const { logger } = options;
  let settings: RateLimitSettings | undefined;
  /** The current Redis backend; `connected` is set once ioredis has loaded and the client exists. */
  let redis: { readonly identity: string; connected?: { readonly client: Redis; readonly limiters: LimiterCache } } | undefined;
  const local = createLimiterCache(createMemoryLimiter);
  const pending = new Map<number, { resolve(result: Consumed): void; timer: NodeJS.Timeout }>();
  let nextId = 0;
  /** Clients being shut down on purpose: their 'close' is no outage. */
  const closing = new WeakSet<Redis>();
  const shut = (client: Redis) => {
    closing.add(client);
    void client.quit().catch(() => client.disconnect());
  };

  /** What stands in when the counting place cannot answer. */
  const fallback = async (limit: LimitSpec, key: string): Promise<Consumed> => {
    if (settings?.failClosed === true) return failed;
    return { ...(await consumeOne(local.get(limit), key)), degraded: true };
  };

  const askPrimary = (limit: LimitSpec, key: string) =>
    new Promise<Consumed | undefined>((resolve) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        resolve(undefined);
      }, primaryTimeoutMs);
      pending.set(id, { resolve, timer });
      options.ask(id, limit, key);
    });

  const redisLimiter = (client: Redis, limit: LimitSpec, prefix: string) => {
    const failOpen = settings?.failClosed !== true;
    const one = (points: number, duration: number, part: string) =>
      new RateLimiterRedis({
        storeClient: client,
        keyPrefix: `${prefix}:${limit.id}:${part}`,
        points,
        duration,
        // A Redis not connected answers at once, not after the timeout.
        rejectIfRedisNotReady: true,
        ...(failOpen ? { insuranceLimiter: new InsuranceLimiter({ points, duration }) } : {}),
      });
    const main = one(limit.requests, limit.windowSeconds, 'main');
    return limit.burst === 0 ? main : new BurstyRateLimiter(main, one(limit.burst, limit.burstWindowSeconds, 'burst'));
  };

  const openRedis = (RedisClient: typeof Redis, backend: RateLimitBackend): Redis | undefined => {
    const config = backend.settings.backend?.redis;
    if (config === undefined) return undefined;
    const connection: RedisOptions = {
      ...(config.username === undefined ? {} : { username: config.username }),
      ...(backend.secrets?.password === undefined ? {} : { password: backend.secrets.password }),
      ...(config.tls !== undefined || config.url?.startsWith('rediss://') === true
        ? { tls: { ...(backend.secrets?.caPem === undefined ? {} : { ca: backend.secrets.caPem }), ...(config.tls?.sni === undefined ? {} : { servername: config.tls.sni }) } }
        : {}),
      ...(config.sentinel === undefined
        ? {}
        : { name: config.sentinel.masterName, sentinels: config.sentinel.addresses.map((address) => ({ host: address.slice(0, address.lastIndexOf(':')), port: Number(address.slice(address.lastIndexOf(':') + 1)) })) }),
      // A request never waits for a reconnect: commands fail at once while Redis is away, and a
      // command Redis does not answer within the timeout fails too.
      enableOfflineQueue: false,
      commandTimeout: backend.settings.timeout,
      maxRetriesPerRequest: 0,
      retryStrategy: (attempt: number) => Math.min(attempt * 200, 2000),
    };
    const client = config.url === undefined ? new RedisClient(connection) : new RedisClient(config.url, connection);
    // One line per change of state, never one per request or per reconnect attempt. A lost
    // connection says so at once ('close'); one that never came up, at its first error.
    let up: boolean | undefined;
    const down = (reason: string) => {
      if (up === false || closing.has(client)) return;
      up = false;
      logger.warn(`rate limit backend unreachable; ${backend.settings.failClosed ? 'failing closed (500 RLSE)' : 'limiting locally per worker'} until it returns`, { backend: 'redis', reason });
    };
    client.on('ready', () => {
      if (up !== true) logger.info('rate limit backend ready', { backend: 'redis' });
      up = true;
    });
    client.on('close', () => down('connection closed'));
    client.on('error', (err: Error) => down(err.message));
    return client;
  };

  return {
    configure(backend) {
      settings = backend.settings;
      const identity = backend.inUse ? JSON.stringify([backend.settings, backend.secrets]) : '';
      if (redis?.identity === identity) return;
      if (redis?.connected !== undefined) shut(redis.connected.client);
      if (!backend.inUse) {
        redis = undefined;
        return;
      }
      const current: NonNullable<typeof redis> = { identity };
      redis = current;
      const prefix = backend.settings.backend?.redis.keyPrefix ?? 'meshgate';
      void import('ioredis')
        .then(({ Redis: RedisClient }) => {
          // A reload or close while ioredis loaded replaced this backend: open nothing.
          if (redis !== current) return;
          const client = openRedis(RedisClient, backend);
          if (client !== undefined) current.connected = { client, limiters: createLimiterCache((limit) => redisLimiter(client, limit, prefix)) };
        })
        .catch((err: unknown) => logger.error('rate limit backend could not start; Global limits take the fallback', { backend: 'redis', err }));
    },
    async consume(limit, global, key) {
      if (global) {
        const connected = redis?.connected;
        if (connected === undefined) return fallback(limit, key);
        try {
          return await consumeOne(connected.limiters.get(limit), key);
        } catch {
          // Only with failClosed: fail open has the insurance limiter answer instead.
          return failed;
        }
      }
      if (options.workers <= 1) return consumeOne(local.get(limit), key);
      return (await askPrimary(limit, key)) ?? fallback(limit, key);
    },
    onResult(id, result) {
      const waiting = pending.get(id);
      if (waiting === undefined) return;
      pending.delete(id);
      clearTimeout(waiting.timer);
      waiting.resolve(result);
    },
    async close() {
      const client = redis?.connected?.client;
      redis = undefined;
      if (client === undefined) return;
      closing.add(client);
      await client.quit().catch(() => client.disconnect());
    },
  };
}
