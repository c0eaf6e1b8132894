// The load balancer of a cluster, chosen from Istio's DestinationRule trafficPolicy.loadBalancer
// the way istiod maps it to Envoy's lb_policy. Built once per endpoint set (a DNS change
// rebuilds it), never per request.

import { type Endpoint, endpointNames } from '../endpoint.js';
import { createLeastRequest } from './least-request.js';
import { createRandom } from './random.js';
import { createRingHash, DEFAULT_MINIMUM_RING_SIZE } from './ring-hash.js';
import { createRoundRobin } from './round-robin.js';

/** Istio LoadBalancerSettings.SimpleLB. */
export type SimpleLoadBalancer = 'UNSPECIFIED' | 'LEAST_CONN' | 'RANDOM' | 'PASSTHROUGH' | 'ROUND_ROBIN' | 'LEAST_REQUEST';

/** Istio LoadBalancerSettings.ConsistentHashLB (JSON field names; ttl in milliseconds). */
export interface ConsistentHashSettings {
  readonly httpHeaderName?: string;
  readonly httpCookie?: { readonly name: string; readonly path?: string; readonly ttl?: number };
  readonly useSourceIp?: boolean;
  readonly httpQueryParameterName?: string;
  readonly ringHash?: { readonly minimumRingSize?: number };
  readonly maglev?: { readonly tableSize?: number };
  /** Deprecated in Istio in favour of ringHash.minimumRingSize. */
  readonly minimumRingSize?: number;
}

/** Istio LoadBalancerSettings (simple and consistentHash are a oneof). */
export interface LoadBalancerSettings {
  readonly simple?: SimpleLoadBalancer;
  readonly consistentHash?: ConsistentHashSettings;
}

export interface PickContext {
  /** The request's consistent-hash key (see hash-key.ts); only ring hash reads it. */
  readonly hashKey?: string;
  /** endpointKey()s not to pick: endpoints already tried by a retry, or ejected. */
  readonly exclude?: ReadonlySet<string>;
}

export interface LoadBalancer {
  /** An endpoint not in context.exclude, or undefined when there is none. */
  pick(context: PickContext): Endpoint | undefined;
}

export interface LoadBalancerOptions {
  /** Requests in flight per endpointKey, counted by the cluster (LEAST_REQUEST reads it). */
  readonly activeRequests?: (key: string) => number;
}

const noEndpoint: LoadBalancer = Object.freeze({ pick: () => undefined });
const noActiveRequests = (): number => 0;

export function createLoadBalancer(
  settings: LoadBalancerSettings | undefined,
  endpoints: readonly Endpoint[],
  options: LoadBalancerOptions = {},
): LoadBalancer {
  if (endpoints.length === 0) return noEndpoint;
  const keys = endpoints.map((endpoint) => endpointNames(endpoint).key);
  const consistentHash = settings?.consistentHash;
  if (consistentHash !== undefined) {
    // Maglev is served by the ring: both give consistent hashing with ~1/n of keys moving when an
    // endpoint comes or goes; the ring is sized from the Maglev table size when one is given.
    const ringSize =
      consistentHash.maglev?.tableSize ??
      consistentHash.ringHash?.minimumRingSize ??
      consistentHash.minimumRingSize ??
      DEFAULT_MINIMUM_RING_SIZE;
    return createRingHash(endpoints, keys, ringSize || DEFAULT_MINIMUM_RING_SIZE);
  }
  switch (settings?.simple) {
    case 'ROUND_ROBIN':
      return createRoundRobin(endpoints, keys);
    case 'RANDOM':
      return createRandom(endpoints, keys);
    default:
      // Unset and UNSPECIFIED are Istio's default, LEAST_REQUEST; LEAST_CONN is its deprecated
      // name. istiod turns PASSTHROUGH into an ORIGINAL_DST cluster: connect to the address the
      // client originally dialled, as iptables redirection reveals it to a sidecar. At an edge
      // gateway that address is the gateway itself, so there is no other destination to pass
      // through to: the cluster's own endpoints are balanced with the default policy instead.
      return createLeastRequest(endpoints, keys, options.activeRequests ?? noActiveRequests);
  }
}
