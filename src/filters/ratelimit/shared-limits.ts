import { consumeOne, createMemoryLimiter, type Consumed, type LimitSpec, type Limiter } from './limit-spec.js';

// The primary's side of Local limits with several workers: every worker asks here, so the
// buckets are one per gateway instance and `--workers` does not multiply a limit.

export interface SharedLimits {
  consume(limit: LimitSpec, key: string): Promise<Consumed>;
}

export function createSharedLimits(): SharedLimits {
  // Keyed by the limit's id, which names the limit too: a reload that keeps a rule keeps its counts.
  const limiters = new Map<string, Limiter>();
  return {
    consume(limit, key) {
      let limiter = limiters.get(limit.id);
      if (limiter === undefined) {
        limiter = createMemoryLimiter(limit);
        limiters.set(limit.id, limiter);
      }
      return consumeOne(limiter, key);
    },
  };
}
