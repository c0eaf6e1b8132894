import type { Resource, ValidatedConfig } from '../config/validate.js';
import type { BindFailure, ListenerAddress } from '../data-plane.js';
import type { LogLevel } from '../log.js';
import type { ServerCredentials } from '../config/credentials.js';
import type { SourceWorkload } from '../observability/istio-metrics.js';
import type { MetricJson } from '../observability/metric-json.js';
import type { ClusterStatus } from '../upstream/cluster.js';
import type { Consumed, LimitSpec } from '../filters/ratelimit/limit-spec.js';
import type { RateLimitSecrets } from '../config/rate-limit-secrets.js';

// The primary-to-worker channel (node:cluster IPC, structured clone). One discriminated union
// each way, so the features that must share state across workers (rate-limit counters, metrics,
// ACME challenges) add message types here instead of opening channels of their own.

/** Validated resources without the loader's `locate` (a function cannot cross processes). */
export type WireResource<Spec> = Omit<Resource<Spec>, 'locate'>;
export type WireResources = { readonly [Kind in keyof ValidatedConfig]: readonly WireResource<ValidatedConfig[Kind][number]['spec']>[] };
/**
 * The resources, the certificates they serve and the Redis password and CA of Global rate limits (read
 * by the primary: workers read no files). Neither secret is ever shown on /config_dump.
 */
export type WireConfig = WireResources & { readonly credentials: ServerCredentials; readonly rateLimitSecrets?: RateLimitSecrets };

/** What a worker needs before any message: handed over in its environment at fork. */
export interface WorkerSettings {
  readonly logLevel: LogLevel;
  readonly drainMs: number;
  /** The gateway's name and namespace in Istio's metrics. */
  readonly source: SourceWorkload;
  /** How many workers serve: with more than one, Local rate limits are counted by the primary. */
  readonly workers: number;
}

export const workerSettingsVariable = 'MESHGATE_WORKER_SETTINGS';

export type PrimaryMessage =
  /** Serve this configuration. `strict`: a listener that cannot bind fails the worker's start. */
  | { readonly type: 'config'; readonly generation: number; readonly config: WireConfig; readonly strict: boolean }
  /**
   * The session-ticket keys for every TLS server: sent before a worker's first config and on each
   * rotation. Never logged, never on the admin port.
   */
  | { readonly type: 'ticket-keys'; readonly keys: Buffer }
  /** Stop accepting, finish what is in flight, exit 0. */
  | { readonly type: 'drain' }
  /** Send your metrics (a scrape of /stats/prometheus); `id` pairs the answer with the scrape. */
  | { readonly type: 'metrics'; readonly id: number }
  /** The admin port's /clusters: answer with a 'clusters' message carrying the same id. */
  | { readonly type: 'clusters'; readonly id: number }
  /** The answer to a worker's `rate-limit` request with the same id. */
  | { readonly type: 'rate-limit-result'; readonly id: number; readonly result: Consumed };

export type WorkerMessage =
  /**
   * The worker listens for messages now. cluster's 'online' comes before an ES module's top level
   * has run, so a message sent on 'online' would be dropped.
   */
  | { readonly type: 'listening' }
  | {
      readonly type: 'applied';
      readonly generation: number;
      readonly listeners: readonly ListenerAddress[];
      readonly bindFailures: readonly BindFailure[];
    }
  | { readonly type: 'failed'; readonly generation: number; readonly message: string }
  | { readonly type: 'metrics'; readonly id: number; readonly metrics: readonly MetricJson[] }
  /** This worker's clusters: endpoints, health, ejections and circuit-breaker counts are per worker. */
  | { readonly type: 'clusters'; readonly id: number; readonly clusters: readonly ClusterStatus[] }
  /** Count one request against a Local limit the workers share (the primary holds the buckets). */
  | { readonly type: 'rate-limit'; readonly id: number; readonly limit: LimitSpec; readonly key: string };

export function toWire(config: ValidatedConfig, credentials: ServerCredentials = {}, rateLimitSecrets?: RateLimitSecrets): WireConfig {
  const strip = <Spec>({ locate: _locate, ...rest }: Resource<Spec>): WireResource<Spec> => rest;
  return {
    gateways: config.gateways.map(strip),
    virtualServices: config.virtualServices.map(strip),
    destinationRules: config.destinationRules.map(strip),
    serviceEntries: config.serviceEntries.map(strip),
    workloadEntries: config.workloadEntries.map(strip),
    healthCheckPolicies: config.healthCheckPolicies.map(strip),
    meshConfigs: config.meshConfigs.map(strip),
    rateLimitPolicies: config.rateLimitPolicies.map(strip),
    credentials,
    ...(rateLimitSecrets === undefined ? {} : { rateLimitSecrets }),
  };
}

/**
 * The validated config again, for the worker's compile. Field positions only matter for issues,
 * and the primary has reported those already: here a resource locates everything at its start.
 */
export function fromWire(wire: WireConfig): ValidatedConfig {
  const restore = <Spec>(resource: WireResource<Spec>): Resource<Spec> => ({ ...resource, locate: () => ({ line: resource.line, column: 1 }) });
  return {
    gateways: wire.gateways.map(restore),
    virtualServices: wire.virtualServices.map(restore),
    destinationRules: wire.destinationRules.map(restore),
    serviceEntries: wire.serviceEntries.map(restore),
    workloadEntries: wire.workloadEntries.map(restore),
    healthCheckPolicies: wire.healthCheckPolicies.map(restore),
    meshConfigs: wire.meshConfigs.map(restore),
    rateLimitPolicies: wire.rateLimitPolicies.map(restore),
  };
}
