// Circuit breaking, Envoy's cluster thresholds from Istio's connectionPool limits: past a limit
// a request fails fast with 503 UO instead of queueing. Pools are one per endpoint with at most
// tcp.maxConnections connections, and an HTTP/1.1 connection carries one request at a time, so
// an endpoint's requests beyond its connections are the pending ones http1MaxPendingRequests
// bounds. http2MaxRequests bounds the cluster's requests in flight (Envoy's max_requests, for
// every protocol) and maxRetries its retries in flight. Counts are per worker process.

import { unlimited } from '../config/unlimited.js';
import type { ConnectionPoolSettings } from './pool-options.js';

export interface CircuitBreaker {
  /** Whether a request just counted (the endpoint's and the cluster's counts include it) is past a limit. */
  overflows(endpointActive: number, clusterActive: number): boolean;
  /** Takes a retry slot; false when maxRetries retries are in flight. */
  startRetry(): boolean;
  endRetry(): void;
  /** The limits (null: none) and the retries in flight, for the admin port's /clusters. */
  thresholds(): CircuitBreakerThresholds;
}

/** Envoy's /clusters circuit_breakers.thresholds field names. */
export interface CircuitBreakerThresholds {
  readonly max_connections: number | null;
  readonly max_pending_requests: number | null;
  readonly max_requests: number | null;
  readonly max_retries: number | null;
  readonly retries_in_flight: number;
}

// 2^32-1 (Istio's default) and proto3's 0 both mean no limit.
function limit(value: number | undefined): number {
  return value === undefined || value === 0 || value >= unlimited ? Infinity : value;
}

export function createCircuitBreaker(settings: ConnectionPoolSettings | undefined): CircuitBreaker {
  return new ClusterCircuitBreaker(settings);
}

// A class, not closures: every cluster has one, and a worker may hold thousands.
class ClusterCircuitBreaker implements CircuitBreaker {
  private readonly connections: number;
  private readonly pending: number;
  private readonly perEndpoint: number;
  private readonly requests: number;
  private readonly retries: number;
  private retriesInFlight = 0;

  constructor(settings: ConnectionPoolSettings | undefined) {
    this.connections = limit(settings?.tcp?.maxConnections);
    this.pending = limit(settings?.http?.http1MaxPendingRequests);
    this.perEndpoint = this.connections === Infinity ? Infinity : this.connections + this.pending;
    this.requests = limit(settings?.http?.http2MaxRequests);
    this.retries = limit(settings?.http?.maxRetries);
  }

  overflows(endpointActive: number, clusterActive: number): boolean {
    return endpointActive > this.perEndpoint || clusterActive > this.requests;
  }

  startRetry(): boolean {
    if (this.retriesInFlight >= this.retries) return false;
    this.retriesInFlight++;
    return true;
  }

  endRetry(): void {
    this.retriesInFlight = Math.max(0, this.retriesInFlight - 1);
  }

  thresholds(): CircuitBreakerThresholds {
    return {
      max_connections: finite(this.connections),
      max_pending_requests: finite(this.connections === Infinity ? Infinity : this.pending),
      max_requests: finite(this.requests),
      max_retries: finite(this.retries),
      retries_in_flight: this.retriesInFlight,
    };
  }
}

function finite(value: number): number | null {
  return value === Infinity ? null : value;
}
