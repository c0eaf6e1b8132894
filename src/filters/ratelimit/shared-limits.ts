import { consumeOne, createMemoryLimiter, type Consumed, type LimitSpec } from './limit-spec.js';
import { createLimiterCache } from './limiter-cache.js';

// The primary's side of Local limits with several workers: every worker asks here, so the
// buckets are one per gateway instance and `--workers` does not multiply a limit.

export interface SharedLimits {
  consume(limit: LimitSpec, key: string): Promise<Consumed>;
}

export function createSharedLimits(): SharedLimits {
  // Keyed by the limit's id, which names the limit too: a reload that keeps a rule keeps its counts.
  const limiters = createLimiterCache(createMemoryLimiter);
  return {
    consume: (limit, key) => consumeOne(limiters.get(limit), key),
  };
}
