// A cluster at run time: where its endpoints come from, the load balancer over them, the
// count of requests in flight per endpoint that LEAST_REQUEST balances on and circuit breaking
// reads, and which endpoints are out (ejected as outliers or failing health checks). The
// compiler builds one frozen ClusterConfig per (host, port, subset), named as Istio names Envoy
// clusters.

import type { Dispatcher } from 'undici';
import type { Logger } from '../log.js';
import { type Endpoint, endpointKey, endpointNames } from './endpoint.js';
import { createDnsEndpoints, createStaticEndpoints, type DnsAnswers, type DnsTarget, type EndpointSet, type LookupAll } from './endpoint-set.js';
import { createLoadBalancer, type LoadBalancer, type LoadBalancerSettings, type PickContext } from './lb/index.js';
import { type ConnectionPoolSettings, type PoolOptions, poolOptionsFor } from './pool-options.js';
import type { PoolRegistry } from './pool-registry.js';
import { type CircuitBreaker, type CircuitBreakerThresholds, createCircuitBreaker } from './circuit-breaker.js';
import { createOutlierDetector, type OutlierDetectionSettings, type OutlierDetector, type TryResult } from './outlier-detection.js';
import { createHealthChecker, type HealthChecker, type HealthCheckSettings } from './health-check.js';

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
  /** The merged DestinationRule trafficPolicy: pools and circuit breaking read connectionPool. */
  readonly trafficPolicy?: { readonly connectionPool?: ConnectionPoolSettings; readonly outlierDetection?: OutlierDetectionSettings };
  /** The HealthCheckPolicy that selects this cluster. */
  readonly healthCheck?: HealthCheckSettings;
  /** The subset's labels (the metrics' destination_version is its `version`). */
  readonly subsetLabels?: Readonly<Record<string, string>>;
  /** The namespace of the ServiceEntry that defines the host (the metrics' destination_service_namespace). */
  readonly serviceNamespace?: string;
}

/** One request's use of an endpoint; release() once the exchange is over (it counts only once). */
export interface UpstreamLease {
  readonly endpoint: Endpoint;
  /** endpointKey(endpoint), computed once per endpoint object. */
  readonly key: string;
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
  /** An endpoint lease, or undefined when no endpoint is available (503 UH). Ejected and unhealthy endpoints are skipped. */
  choose(context: PickContext): UpstreamLease | undefined;
  /** Whether a lease just taken is past a circuit-breaking limit (the caller releases it and answers 503 UO). */
  overflows(lease: UpstreamLease): boolean;
  /** maxRetries: a retry slot, given back with endRetry(). */
  readonly breaker: Pick<CircuitBreaker, 'startRetry' | 'endRetry'>;
  /** One try's result on an endpoint, for outlier detection. */
  report(lease: UpstreamLease, result: TryResult): void;
  endpoints(): readonly Endpoint[];
  /** Calls `listener` after endpoints() changed (a new DNS answer). */
  onEndpointsChange(listener: () => void): void;
  /** What the admin port's /clusters and the endpoint metrics show of this worker's view. */
  status(): ClusterStatus;
  /** Stops DNS refreshes, outlier sweeps and health checks; the shared pools are the registry's to close. */
  close(): void;
}

/** One cluster as one worker sees it, in the shape of Envoy's /clusters?format=json. */
export interface ClusterStatus {
  readonly name: string;
  readonly circuit_breakers: CircuitBreakerThresholds & { readonly rq_active: number; readonly rq_overflow: number };
  /** Outlier ejections since the cluster was built (Envoy's outlier_detection.ejections_total). */
  readonly outlier_ejections_total: number;
  readonly host_statuses: readonly HostStatus[];
}

export interface HostStatus {
  /** endpointKey(): "10.0.0.1:8080". */
  readonly address: string;
  readonly weight: number;
  readonly rq_active: number;
  readonly health_status: { readonly failed_outlier_check: boolean; readonly failed_active_health_check: boolean };
}

export interface ClusterDeps {
  readonly pools: PoolRegistry;
  readonly logger: Logger;
  readonly lookup?: LookupAll;
  /** The worker's last DNS answers, which a rebuilt DNS cluster starts from. */
  readonly dnsAnswers?: DnsAnswers;
}

const noneOut: ReadonlySet<string> = new Set();

export function createCluster(config: ClusterConfig, deps: ClusterDeps): Cluster {
  return new RuntimeCluster(config, deps);
}

// A class rather than a closure object: a worker holds one per cluster (thousands with many
// services), and instances share their methods and one hidden class where closures cost a
// function and a context each.
class RuntimeCluster implements Cluster {
  readonly name: string;
  readonly poolOptions: PoolOptions;
  readonly breaker: CircuitBreaker;
  private readonly endpointSet: EndpointSet;
  // Keyed by endpointKey, not by Endpoint object, so that counts survive a DNS refresh that
  // rebuilds the endpoint objects while their requests are still in flight.
  private readonly active = new Map<string, number>();
  private clusterActive = 0;
  /** Requests refused 503 UO since this cluster was built. */
  private overflowed = 0;
  // Endpoints out of load balancing: ejected outliers and failed health checks, unless so few
  // are left that Istio's minHealthPercent (Envoy's panic threshold) says to use them all.
  private out = noneOut;
  private readonly outliers: OutlierDetector | undefined;
  private readonly health: HealthChecker | undefined;
  /** Built at the first pick and after each endpoint change: most clusters of a large config may never see a request. */
  private balancer: LoadBalancer | undefined;

  constructor(
    private readonly config: ClusterConfig,
    private readonly deps: ClusterDeps,
  ) {
    this.name = config.name;
    this.poolOptions = poolOptionsFor(config.trafficPolicy?.connectionPool, config.protocol === 'HTTP2');
    this.endpointSet = createEndpointSet(config.endpoints, deps);
    this.breaker = createCircuitBreaker(config.trafficPolicy?.connectionPool);
    const { logger } = deps;
    const outlierSettings = config.trafficPolicy?.outlierDetection;
    this.outliers =
      outlierSettings === undefined
        ? undefined
        : createOutlierDetector(outlierSettings, {
            endpointCount: () => this.endpointSet.current().length,
            onChange: () => this.recomputeOut(),
            logger,
            cluster: config.name,
          });
    this.health =
      config.healthCheck === undefined
        ? undefined
        : createHealthChecker(config.healthCheck, {
            endpoints: () => this.endpointSet.current(),
            onChange: () => this.recomputeOut(),
            logger,
            cluster: config.name,
          });
    this.endpointSet.onChange(() => {
      this.balancer = undefined;
      this.recomputeOut();
      logger.info('cluster endpoints changed', { cluster: config.name, endpoints: this.endpointSet.current().map(endpointKey) });
    });
  }

  ready(): Promise<void> {
    return this.endpointSet.ready();
  }

  endpoints(): readonly Endpoint[] {
    return this.endpointSet.current();
  }

  onEndpointsChange(listener: () => void): void {
    this.endpointSet.onChange(listener);
  }

  close(): void {
    this.endpointSet.close();
    this.outliers?.close();
    this.health?.close();
  }

  overflows(lease: UpstreamLease): boolean {
    if (!this.breaker.overflows(this.activeRequests(lease.key), this.clusterActive)) return false;
    this.overflowed++;
    return true;
  }

  status(): ClusterStatus {
    const ejected = this.outliers?.ejected();
    const unhealthy = this.health?.unhealthy();
    return {
      name: this.name,
      circuit_breakers: { ...this.breaker.thresholds(), rq_active: this.clusterActive, rq_overflow: this.overflowed },
      outlier_ejections_total: this.outliers?.ejections() ?? 0,
      host_statuses: this.endpointSet.current().map((endpoint) => {
        const key = endpointKey(endpoint);
        return {
          address: key,
          weight: endpoint.weight,
          rq_active: this.activeRequests(key),
          health_status: { failed_outlier_check: ejected?.has(key) === true, failed_active_health_check: unhealthy?.has(key) === true },
        };
      }),
    };
  }

  report(lease: UpstreamLease, result: TryResult): void {
    this.outliers?.report(lease.key, result);
  }

  choose(context: PickContext): UpstreamLease | undefined {
    const balancer = (this.balancer ??= this.balance());
    const out = this.out;
    const endpoint = balancer.pick(out === noneOut ? context : { ...context, exclude: union(out, context.exclude) });
    if (endpoint === undefined) return undefined;
    const { key, origin } = endpointNames(endpoint);
    this.active.set(key, this.activeRequests(key) + 1);
    this.clusterActive++;
    return new EndpointLease(this, endpoint, key, origin);
  }

  pool(origin: string): Dispatcher {
    return this.deps.pools.get(origin, this.poolOptions);
  }

  /** Called by a lease once, when its exchange is over. */
  released(key: string): void {
    this.clusterActive--;
    const remaining = this.activeRequests(key) - 1;
    if (remaining > 0) this.active.set(key, remaining);
    else this.active.delete(key);
  }

  private activeRequests(key: string): number {
    return this.active.get(key) ?? 0;
  }

  private balance(): LoadBalancer {
    return createLoadBalancer(this.config.loadBalancer, this.endpointSet.current(), { activeRequests: (key) => this.activeRequests(key) });
  }

  private recomputeOut(): void {
    const down = new Set([...(this.outliers?.ejected() ?? []), ...(this.health?.unhealthy() ?? [])]);
    const total = this.endpointSet.current().length;
    const healthyPercent = total === 0 ? 100 : (100 * (total - down.size)) / total;
    const minHealthPercent = this.config.trafficPolicy?.outlierDetection?.minHealthPercent ?? 0;
    this.out = down.size === 0 || healthyPercent < minHealthPercent ? noneOut : down;
  }
}

class EndpointLease implements UpstreamLease {
  private released = false;

  constructor(
    private readonly cluster: RuntimeCluster,
    readonly endpoint: Endpoint,
    readonly key: string,
    readonly origin: string,
  ) {}

  // Read only by HTTP forwarding: a TCP relay takes the endpoint and opens its own socket.
  get pool(): Dispatcher {
    return this.cluster.pool(this.origin);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.cluster.released(this.key);
  }
}

function createEndpointSet(endpoints: ClusterEndpointsConfig, deps: ClusterDeps): EndpointSet {
  if (endpoints.kind === 'static') return createStaticEndpoints(endpoints.endpoints);
  return createDnsEndpoints(endpoints.targets, {
    logger: deps.logger,
    ...(endpoints.refreshMs === undefined ? {} : { refreshMs: endpoints.refreshMs }),
    ...(deps.lookup === undefined ? {} : { lookup: deps.lookup }),
    ...(deps.dnsAnswers === undefined ? {} : { answers: deps.dnsAnswers }),
  });
}

function union(a: ReadonlySet<string>, b: ReadonlySet<string> | undefined): ReadonlySet<string> {
  if (b === undefined || b.size === 0) return a;
  return new Set([...a, ...b]);
}
