import type { LimitSpec, Limiter } from './limit-spec.js';

// Limiters by their spec's id, built on first use. A reload that edits a limit gives it a new
// id, so old entries would pile up: one unused for longer than its windows holds no live bucket
// (every count in it has expired), and a sweep, at most once a minute, drops it.

export interface LimiterCache {
  get(spec: LimitSpec): Limiter;
}

const sweepEveryMs = 60_000;

export function createLimiterCache(build: (spec: LimitSpec) => Limiter): LimiterCache {
  const entries = new Map<string, { readonly limiter: Limiter; readonly idleMs: number; lastUsed: number }>();
  let lastSweep = Date.now();
  return {
    get(spec) {
      const now = Date.now();
      if (now - lastSweep >= sweepEveryMs) {
        lastSweep = now;
        for (const [id, entry] of entries) if (now - entry.lastUsed > entry.idleMs) entries.delete(id);
      }
      let entry = entries.get(spec.id);
      if (entry === undefined) {
        entry = { limiter: build(spec), idleMs: Math.max(spec.windowSeconds, spec.burstWindowSeconds) * 1000, lastUsed: now };
        entries.set(spec.id, entry);
      }
      entry.lastUsed = now;
      return entry.limiter;
    },
  };
}
