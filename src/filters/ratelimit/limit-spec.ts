import type { RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import BurstyRateLimiter from 'rate-limiter-flexible/lib/BurstyRateLimiter.js';
import RateLimiterMemory from 'rate-limiter-flexible/lib/RateLimiterMemory.js';

// One rule's limit as plain data, so it can cross to the primary (shared Local limits) and name
// its buckets in Redis (Global limits), and the in-memory limiter built from it.

export interface LimitSpec {
  /** Names the rule's buckets: policy, rule, route and the limit itself (a changed limit starts afresh). */
  readonly id: string;
  readonly requests: number;
  readonly windowSeconds: number;
  /** Extra requests above `requests`; 0 for none. */
  readonly burst: number;
  /** How long a used burst takes to come back: the time the steady rate needs to serve it. */
  readonly burstWindowSeconds: number;
}

/** What one request's check said. `error`: the backend failed and failClosed is set. */
export interface Consumed {
  readonly decision: 'allowed' | 'limited' | 'error';
  readonly remaining: number;
  readonly resetMs: number;
  /** Redis could not answer: the local insurance limiter decided instead. */
  readonly degraded?: boolean;
}

/** A limiter of either kind: the main window, with a burst window behind it when the rule has one. */
export type Limiter = Pick<RateLimiterAbstract, 'consume'>;

export function createMemoryLimiter(spec: LimitSpec): Limiter {
  const main = new RateLimiterMemory({ points: spec.requests, duration: spec.windowSeconds });
  if (spec.burst === 0) return main;
  return new BurstyRateLimiter(main, new RateLimiterMemory({ points: spec.burst, duration: spec.burstWindowSeconds, keyPrefix: 'burst' }));
}

/** A limiter's answer as a decision: the library resolves under the limit and rejects with a RateLimiterRes above it. */
export async function consumeOne(limiter: Limiter, key: string): Promise<Consumed> {
  try {
    return fromRes('allowed', await limiter.consume(key, 1));
  } catch (err) {
    if (isRes(err)) return fromRes('limited', err);
    throw err;
  }
}

function fromRes(decision: 'allowed' | 'limited', res: RateLimiterRes): Consumed {
  const degraded = (res as { degraded?: boolean }).degraded === true;
  return { decision, remaining: Math.max(0, res.remainingPoints), resetMs: res.msBeforeNext, ...(degraded ? { degraded } : {}) };
}

function isRes(value: unknown): value is RateLimiterRes {
  return typeof value === 'object' && value !== null && 'msBeforeNext' in value && 'remainingPoints' in value;
}
