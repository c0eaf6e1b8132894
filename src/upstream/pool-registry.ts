// One undici Pool per endpoint origin, shared by every cluster that names the endpoint, so that
// a config reload that keeps an endpoint keeps its warm keep-alive connections. The gateway
// calls retain() after a swap with the origins the new clusters use; the other pools close
// gracefully (requests in flight finish first).

import { Pool } from 'undici';

export interface PoolRegistryOptions {
  /** TCP connect timeout; Istio's mesh-wide connectTimeout default is 10s. */
  readonly connectTimeoutMs?: number;
  /** Idle time before a kept-alive connection closes, when the server sends no Keep-Alive hint. */
  readonly keepAliveTimeoutMs?: number;
}

export interface PoolRegistry {
  /** The pool for an origin such as "http://10.0.0.1:8080", created on first use. */
  get(origin: string): Pool;
  /** Closes the pools of every origin not in `origins`; resolves when they have closed. */
  retain(origins: ReadonlySet<string>): Promise<void>;
  /** Closes every pool; resolves when requests in flight have finished. */
  close(): Promise<void>;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
// undici's own default.
const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 4_000;

export function createPoolRegistry(options: PoolRegistryOptions = {}): PoolRegistry {
  // All pools share these today; DestinationRule connectionPool limits will make them per pool.
  const poolOptions: Pool.Options = Object.freeze({
    connect: { timeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS },
    keepAliveTimeout: options.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
  });
  const pools = new Map<string, Pool>();

  function closeWhere(drop: (origin: string) => boolean): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const [origin, pool] of pools) {
      if (!drop(origin)) continue;
      pools.delete(origin);
      closing.push(pool.close());
    }
    return Promise.all(closing).then(() => undefined);
  }

  return {
    get(origin) {
      let pool = pools.get(origin);
      if (pool === undefined) {
        pool = new Pool(origin, poolOptions);
        pools.set(origin, pool);
      }
      return pool;
    },
    retain: (origins) => closeWhere((origin) => !origins.has(origin)),
    close: () => closeWhere(() => true),
  };
}
