// A cluster at run time: where its endpoints come from, the load balancer over them, and the
// count of requests in flight per endpoint that LEAST_REQUEST balances on. The compiler builds
// one frozen ClusterConfig per (host, port, subset), named as Istio names Envoy clusters.

import type { Dispatcher } from 'undici';
import type { Logger } from '../log.js';
import { type Endpoint, endpointKey, endpointOrigin } from './endpoint.js';
import { createDnsEndpoints, createStaticEndpoints, type DnsTarget, type EndpointSet, type LookupAll } from './endpoint-set.js';
import { createLoadBalancer, type LoadBalancer, type LoadBalancerSettings, type PickContext } from './lb/index.js';
import { type ConnectionPoolSettings, type PoolOptions, poolOptionsFor } from './pool-options.js';
import type { PoolRegistry } from './pool-registry.js';

export type ClusterEndpointsConfig =
  | { readonly kind: 'static'; readonly endpoints: readonly Endpoint[] }
  | { readonly kind: 'dns'; readonly targets: readonly DnsTarget[]; readonly refreshMs?: number };

export interface ClusterConfig {
  /** "outbound|PORT|SUBSET|HOST", as Istio names the Envoy cluster. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly subset?: string;
  readonly endpoints: ClusterEndpointsConfig;
  readonly loadBalancer?: LoadBalancerSettings;
  /** HTTP2: the service port speaks HTTP/2 (protocol HTTP2 or GRPC), reached with h2c or ALPN h2. */
  readonly protocol?: 'HTTP2';
  /** The merged DestinationRule trafficPolicy: pools read connectionPool; the rest is for the issues that act on it. */
  readonly trafficPolicy?: { readonly connectionPool?: ConnectionPoolSettings };
}

/** One request's use of an endpoint; release() once the exchange is over (it counts only once). */
export interface UpstreamLease {
  readonly endpoint: Endpoint;
  readonly origin: string;
  readonly pool: Dispatcher;
  release(): void;
}

export interface Cluster {
  readonly name: string;
  /** The options of this cluster's endpoint pools, from its connectionPool settings. */
  readonly poolOptions: PoolOptions;
  /** Resolves when the endpoints are known (DNS: the first answer, or its bounded wait). */
  ready(): Promise<void>;
  /** An endpoint lease, or undefined when no endpoint is available (503 UH). */
  choose(context: PickContext): UpstreamLease | undefined;
  endpoints(): readonly Endpoint[];
  /** Stops DNS refreshes; the shared pools are the registry's to close. */
  close(): void;
}

export interface ClusterDeps {
  readonly pools: PoolRegistry;
  readonly logger: Logger;
  readonly lookup?: LookupAll;
}

interface Balancing {
  readonly balancer: LoadBalancer;
  readonly routes: ReadonlyMap<Endpoint, { readonly key: string; readonly origin: string }>;
}

export function createCluster(config: ClusterConfig, deps: ClusterDeps): Cluster {
  const { pools, logger } = deps;
  const poolOptions = poolOptionsFor(config.trafficPolicy?.connectionPool, config.protocol === 'HTTP2');
  const endpointSet = createEndpointSet(config.endpoints, deps);
  // Keyed by endpointKey, not by Endpoint object, so that counts survive a DNS refresh that
  // rebuilds the endpoint objects while their requests are still in flight.
  const active = new Map<string, number>();
  const activeRequests = (key: string): number => active.get(key) ?? 0;

  const balance = (): Balancing => {
    const endpoints = endpointSet.current();
    return {
      balancer: createLoadBalancer(config.loadBalancer, endpoints, { activeRequests }),
      routes: new Map(endpoints.map((endpoint) => [endpoint, { key: endpointKey(endpoint), origin: endpointOrigin(endpoint) }])),
    };
  };
  let balancing = balance();
  endpointSet.onChange(() => {
    balancing = balance();
    logger.info('cluster endpoints changed', { cluster: config.name, endpoints: [...balancing.routes.values()].map((route) => route.key) });
  });

  return {
    name: config.name,
    poolOptions,
    ready: () => endpointSet.ready(),
    endpoints: () => endpointSet.current(),
    close: () => endpointSet.close(),
    choose(context) {
      const { balancer, routes } = balancing;
      const endpoint = balancer.pick(context);
      // The balancer and its routes are built from one endpoint list, so a pick always has a route.
      const route = endpoint === undefined ? undefined : routes.get(endpoint);
      if (endpoint === undefined || route === undefined) return undefined;
      const { key, origin } = route;
      active.set(key, activeRequests(key) + 1);
      let released = false;
      return {
        endpoint,
        origin,
        // Read only by HTTP forwarding: a TCP relay takes the endpoint and opens its own socket.
        get pool() {
          return pools.get(origin, poolOptions);
        },
        release() {
          if (released) return;
          released = true;
          const remaining = activeRequests(key) - 1;
          if (remaining > 0) active.set(key, remaining);
          else active.delete(key);
        },
      };
    },
  };
}

function createEndpointSet(endpoints: ClusterEndpointsConfig, deps: ClusterDeps): EndpointSet {
  if (endpoints.kind === 'static') return createStaticEndpoints(endpoints.endpoints);
  return createDnsEndpoints(endpoints.targets, {
    logger: deps.logger,
    ...(endpoints.refreshMs === undefined ? {} : { refreshMs: endpoints.refreshMs }),
    ...(deps.lookup === undefined ? {} : { lookup: deps.lookup }),
  });
}
