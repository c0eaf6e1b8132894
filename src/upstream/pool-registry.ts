// One undici Pool per endpoint origin and pool options, shared by every cluster that names the
// endpoint with the same connectionPool settings, so that a config reload that keeps an endpoint
// and its settings keeps its warm keep-alive connections. The gateway calls retain() after a
// swap with the pools the new clusters use; the others close gracefully (requests in flight
// finish first).

import type { Dispatcher } from 'undici';
import Pool from 'undici/lib/dispatcher/pool.js';
import { Http2Upstream } from './h2-upstream.js';
import type { PoolOptions } from './pool-options.js';

/** A pool a cluster uses: its endpoint origin and the options its pool is built with. */
export interface PoolUse {
  readonly origin: string;
  readonly options: PoolOptions;
}

export interface PoolRegistry {
  /** The pool for an origin such as "http://10.0.0.1:8080" built with `options`, created on first use. */
  get(origin: string, options: PoolOptions): Dispatcher;
  /** Closes every pool not in `inUse`; resolves when they have closed. */
  retain(inUse: Iterable<PoolUse>): Promise<void>;
  /** Closes every pool; resolves when requests in flight have finished. */
  close(): Promise<void>;
  /** undici's counters of every HTTP/1.1 pool, by origin (HTTP/2 upstreams keep none). */
  stats(): Iterable<{ readonly origin: string; readonly stats: PoolStats }>;
}

export interface PoolStats {
  readonly connected: number;
  readonly free: number;
  readonly pending: number;
  readonly running: number;
  readonly size: number;
}

export function createPoolRegistry(): PoolRegistry {
  // By fingerprint, then origin: a request's lookup is two Map reads and builds no key.
  const pools = new Map<string, Map<string, Dispatcher>>();

  function closeWhere(drop: (fingerprint: string, origin: string) => boolean): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const [fingerprint, byOrigin] of pools) {
      for (const [origin, pool] of byOrigin) {
        if (!drop(fingerprint, origin)) continue;
        byOrigin.delete(origin);
        closing.push(pool.close());
      }
      if (byOrigin.size === 0) pools.delete(fingerprint);
    }
    return Promise.all(closing).then(() => undefined);
  }

  return {
    get(origin, options) {
      let byOrigin = pools.get(options.fingerprint);
      if (byOrigin === undefined) {
        byOrigin = new Map();
        pools.set(options.fingerprint, byOrigin);
      }
      let pool = byOrigin.get(origin);
      if (pool === undefined) {
        pool = options.http2 ? new Http2Upstream(origin, options) : new Pool(origin, options.undici);
        byOrigin.set(origin, pool);
      }
      return pool;
    },
    retain(inUse) {
      const kept = new Map<string, Set<string>>();
      for (const { origin, options } of inUse) {
        const origins = kept.get(options.fingerprint) ?? new Set<string>();
        origins.add(origin);
        kept.set(options.fingerprint, origins);
      }
      return closeWhere((fingerprint, origin) => kept.get(fingerprint)?.has(origin) !== true);
    },
    close: () => closeWhere(() => true),
    *stats() {
      for (const byOrigin of pools.values()) {
        for (const [origin, pool] of byOrigin) if (pool instanceof Pool) yield { origin, stats: pool.stats };
      }
    },
  };
}
