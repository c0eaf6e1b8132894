// LEAST_REQUEST (Istio's default): Envoy's power of two choices. Draw two different endpoints
// at random and send to the one with fewer requests in flight; it avoids a busy endpoint without
// the herd effect of always choosing the global minimum. With unequal weights the draws are
// weighted and the comparison is requests per unit of weight, which approximates Envoy's
// weight / (active + 1) scheduling without its EDF queue.

import type { Endpoint } from '../endpoint.js';
import type { LoadBalancer } from './index.js';
import { countAvailable, nthAvailable } from './random.js';

export function createLeastRequest(
  endpoints: readonly Endpoint[],
  keys: readonly string[],
  activeRequests: (key: string) => number,
): LoadBalancer {
  const first = endpoints[0] as Endpoint;
  const weighted = endpoints.some((endpoint) => endpoint.weight !== first.weight);
  return weighted ? createWeighted(endpoints, keys, activeRequests) : createUniform(endpoints, keys, activeRequests);
}

function createUniform(
  endpoints: readonly Endpoint[],
  keys: readonly string[],
  activeRequests: (key: string) => number,
): LoadBalancer {
  return {
    pick({ exclude }) {
      const available = countAvailable(keys, exclude);
      if (available === 0) return undefined;
      const firstDraw = Math.floor(Math.random() * available);
      const a = nthAvailable(keys, exclude, firstDraw);
      if (available === 1) return endpoints[a];
      let secondDraw = Math.floor(Math.random() * (available - 1));
      if (secondDraw >= firstDraw) secondDraw++;
      const b = nthAvailable(keys, exclude, secondDraw);
      // Ties keep the first draw, as Envoy keeps its first candidate.
      return endpoints[activeRequests(keys[b] as string) < activeRequests(keys[a] as string) ? b : a];
    },
  };
}

function createWeighted(
  endpoints: readonly Endpoint[],
  keys: readonly string[],
  activeRequests: (key: string) => number,
): LoadBalancer {
  const isOut = (index: number, exclude: ReadonlySet<string> | undefined, skip: number): boolean =>
    index === skip || (exclude !== undefined && exclude.has(keys[index] as string));
  // One index drawn in proportion to weight among those not out, or -1.
  const drawOne = (exclude: ReadonlySet<string> | undefined, skip: number): number => {
    let total = 0;
    for (let index = 0; index < endpoints.length; index++) {
      if (!isOut(index, exclude, skip)) total += (endpoints[index] as Endpoint).weight;
    }
    let point = Math.random() * total;
    let last = -1;
    for (let index = 0; index < endpoints.length; index++) {
      if (isOut(index, exclude, skip)) continue;
      last = index;
      point -= (endpoints[index] as Endpoint).weight;
      if (point < 0) return index;
    }
    return last;
  };
  const load = (index: number): number => activeRequests(keys[index] as string) / (endpoints[index] as Endpoint).weight;
  return {
    pick({ exclude }) {
      const a = drawOne(exclude, -1);
      if (a < 0) return undefined;
      const b = drawOne(exclude, a);
      return endpoints[b >= 0 && load(b) < load(a) ? b : a];
    },
  };
}
