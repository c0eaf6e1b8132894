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
  const connections = limit(settings?.tcp?.maxConnections);
  const pending = limit(settings?.http?.http1MaxPendingRequests);
  // Pending requests only exist when connections are limited.
  const perEndpoint = connections === Infinity ? Infinity : connections + pending;
  const requests = limit(settings?.http?.http2MaxRequests);
  const retries = limit(settings?.http?.maxRetries);
  let retriesInFlight = 0;
  return {
    overflows: (endpointActive, clusterActive) => endpointActive > perEndpoint || clusterActive > requests,
    startRetry() {
      if (retriesInFlight >= retries) return false;
      retriesInFlight++;
      return true;
    },
    endRetry() {
      retriesInFlight = Math.max(0, retriesInFlight - 1);
    },
    thresholds: () => ({
      max_connections: finite(connections),
      max_pending_requests: finite(connections === Infinity ? Infinity : pending),
      max_requests: finite(requests),
      max_retries: finite(retries),
      retries_in_flight: retriesInFlight,
    }),
  };
}

function finite(value: number): number | null {
  return value === Infinity ? null : value;
}
