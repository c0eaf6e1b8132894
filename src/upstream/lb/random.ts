// RANDOM: Envoy's random load balancer picks uniformly among the available endpoints and, like
// Envoy's, ignores weights. The available-endpoint helpers here are shared by every policy that
// draws at random.

import type { Endpoint } from '../endpoint.js';
import type { LoadBalancer } from './index.js';

/** How many keys are not excluded (no scan when nothing is excluded). */
export function countAvailable(keys: readonly string[], exclude: ReadonlySet<string> | undefined): number {
  if (exclude === undefined || exclude.size === 0) return keys.length;
  let count = 0;
  for (const key of keys) if (!exclude.has(key)) count++;
  return count;
}

/** The index of the nth (0-based) key not excluded, or -1. */
export function nthAvailable(keys: readonly string[], exclude: ReadonlySet<string> | undefined, nth: number): number {
  if (exclude === undefined || exclude.size === 0) return nth < keys.length ? nth : -1;
  let remaining = nth;
  for (let index = 0; index < keys.length; index++) {
    if (exclude.has(keys[index] as string)) continue;
    if (remaining === 0) return index;
    remaining--;
  }
  return -1;
}

/** A uniformly random index among the keys not excluded, or -1 when all are. */
function randomAvailable(keys: readonly string[], exclude: ReadonlySet<string> | undefined): number {
  const available = countAvailable(keys, exclude);
  return available === 0 ? -1 : nthAvailable(keys, exclude, Math.floor(Math.random() * available));
}

export function createRandom(endpoints: readonly Endpoint[], keys: readonly string[]): LoadBalancer {
  return {
    pick(context) {
      const index = randomAvailable(keys, context.exclude);
      return index < 0 ? undefined : endpoints[index];
    },
  };
}
