// ROUND_ROBIN: equal weights rotate through the endpoints from a random start (as Envoy seeds
// its index, so that replicas restarted together do not all hit the first endpoint); unequal
// weights use smooth weighted round robin, which spreads an endpoint's turns evenly over the
// cycle instead of sending them in a burst. Excluded endpoints are skipped in turn.

import type { Endpoint } from '../endpoint.js';
import type { LoadBalancer } from './index.js';

export function createRoundRobin(endpoints: readonly Endpoint[], keys: readonly string[]): LoadBalancer {
  const first = endpoints[0] as Endpoint;
  const weighted = endpoints.some((endpoint) => endpoint.weight !== first.weight);
  return weighted ? createWeighted(endpoints, keys) : createRotation(endpoints, keys);
}

function createRotation(endpoints: readonly Endpoint[], keys: readonly string[]): LoadBalancer {
  let next = Math.floor(Math.random() * endpoints.length);
  return {
    pick({ exclude }) {
      for (let tried = 0; tried < endpoints.length; tried++) {
        const index = next;
        next = (next + 1) % endpoints.length;
        if (exclude === undefined || !exclude.has(keys[index] as string)) return endpoints[index];
      }
      return undefined;
    },
  };
}

function createWeighted(endpoints: readonly Endpoint[], keys: readonly string[]): LoadBalancer {
  const current = new Float64Array(endpoints.length);
  return {
    pick({ exclude }) {
      let total = 0;
      let best = -1;
      for (let index = 0; index < endpoints.length; index++) {
        if (exclude !== undefined && exclude.has(keys[index] as string)) continue;
        const weight = (endpoints[index] as Endpoint).weight;
        current[index] = (current[index] as number) + weight;
        total += weight;
        if (best < 0 || (current[index] as number) > (current[best] as number)) best = index;
      }
      if (best < 0) return undefined;
      current[best] = (current[best] as number) - total;
      return endpoints[best];
    },
  };
}
