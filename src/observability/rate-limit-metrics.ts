import { readRateLimitCounts, type RateLimitCounters } from '../filters/ratelimit/rate-limit.js';
import type { MetricJson, MetricValueJson } from './metric-json.js';

// meshgate_ratelimit_decisions_total: what each RateLimitPolicy decided in this worker. The rate
// limit filter counts on the snapshot it was compiled with (a reload starts its counts at 0), so
// the counts of each snapshot a reload retires are kept here: the counter never goes back.

export interface RateLimitMetrics {
  /** The snapshot's counters from now on; the previous snapshot's counts are kept. */
  swap(counters: RateLimitCounters): void;
  toJson(): MetricJson;
}

export function createRateLimitMetrics(): RateLimitMetrics {
  const retired = new Map<string, { policy: string; decision: string; count: number }>();
  let current: RateLimitCounters | undefined;
  const add = (into: Map<string, { policy: string; decision: string; count: number }>, counters: RateLimitCounters) => {
    for (const { policy, decision, count } of readRateLimitCounts(counters)) {
      const key = `${policy}\n${decision}`;
      const seen = into.get(key);
      if (seen === undefined) into.set(key, { policy, decision, count });
      else seen.count += count;
    }
  };
  return {
    swap(counters) {
      if (current !== undefined && current !== counters) add(retired, current);
      current = counters;
    },
    toJson() {
      const totals = new Map([...retired].map(([key, value]) => [key, { ...value }]));
      if (current !== undefined) add(totals, current);
      const values: MetricValueJson[] = [...totals.values()].map(({ policy, decision, count }) => ({ value: count, labels: { policy, decision } }));
      return {
        name: 'meshgate_ratelimit_decisions_total',
        help: 'Rate-limit decisions per RateLimitPolicy: allowed, limited (429 RL), shadowLimited (over the limit in shadow mode, let through), error (the backend did not answer).',
        type: 'counter',
        aggregator: 'sum',
        values,
      };
    },
  };
}
