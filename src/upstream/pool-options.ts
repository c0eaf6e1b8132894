// How a cluster's upstream connections are pooled: Istio's DestinationRule connectionPool
// (ConnectionPoolSettings, which "apply to each individual host", as our pools are one per
// endpoint) turned into undici Pool options. The limits that overflow into 503 UO
// (http1MaxPendingRequests, http2MaxRequests, maxRetries) are circuit breaking, not pool sizing.

import type { Pool } from 'undici';
import { unlimited } from '../config/unlimited.js';

/** Istio ConnectionPoolSettings as validated (durations in milliseconds): the fields pools act on. */
export interface ConnectionPoolSettings {
  readonly tcp?: {
    readonly maxConnections?: number;
    readonly connectTimeout?: number;
    readonly tcpKeepalive?: { readonly time?: number };
    /** Read by TCP relays only (Istio: "used by TCP proxy"). */
    readonly idleTimeout?: number;
  };
  readonly http?: {
    readonly maxRequestsPerConnection?: number;
    readonly idleTimeout?: number;
    /** Circuit breaking (circuit-breaker.ts), not pool sizing. */
    readonly http1MaxPendingRequests?: number;
    readonly http2MaxRequests?: number;
    readonly maxRetries?: number;
  };
}

/** undici Pool options with their fingerprint: equal settings give equal fingerprints, so they share pools. */
export interface PoolOptions {
  readonly fingerprint: string;
  readonly undici: Readonly<Pool.Options>;
  /** The upstream speaks HTTP/2 (h2-upstream.ts) instead of HTTP/1.1 (an undici Pool). */
  readonly http2: boolean;
  /** For HTTP/2 upstreams, which undici does not carry: how long a session without traffic stays. */
  readonly idleTimeoutMs: number;
  /** The socket settings of `undici.connect`, for TCP relays and HTTP/2 sessions that open their own sockets. */
  readonly connect: ConnectSettings;
}

export interface ConnectSettings {
  readonly timeout: number;
  readonly keepAlive: true;
  /** 0: the OS's keep-alive idle time. */
  readonly keepAliveInitialDelay: number;
}

/** Istio's default connect timeout. */
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
// undici's default for a response without a Keep-Alive hint. A server that sends none may close
// an idle connection at any moment, and a request sent on it as it closes fails (retried only
// when the route's retryOn covers a reset), so such connections stay short-lived even when
// idleTimeout allows more.
const UNHINTED_KEEP_ALIVE_MS = 4_000;
// undici's default cap on a server's Keep-Alive hint, when no idleTimeout sets one.
const DEFAULT_KEEP_ALIVE_MAX_MS = 600_000;
// undici's default TCP keep-alive probe delay, kept when the DestinationRule has no tcpKeepalive.
const DEFAULT_TCP_KEEPALIVE_DELAY_MS = 60_000;

// Every cluster holds its PoolOptions, and most clusters of a config have the same settings: equal
// fingerprints share one frozen object (and one fingerprint string) instead of one per cluster.
// Kept for the process's life: there are as many as distinct connectionPool settings ever served.
const sharedOptions = new Map<string, PoolOptions>();

/** The undici Pool options for a cluster's merged connectionPool settings (undefined: none set). */
export function poolOptionsFor(settings: ConnectionPoolSettings | undefined, http2 = false): PoolOptions {
  const tcp = settings?.tcp;
  const http = settings?.http;
  // Envoy: an idle timeout of 0 disables it; the Istio CRD requires at least 1ms anyway.
  const idleTimeout = http?.idleTimeout !== undefined && http.idleTimeout > 0 ? http.idleTimeout : undefined;
  const connect: ConnectSettings = Object.freeze({
    timeout: tcp?.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_MS,
    keepAlive: true,
    keepAliveInitialDelay: tcpKeepaliveDelay(tcp?.tcpKeepalive),
  });
  const undici: Pool.Options = Object.freeze({
    connections: connectionLimit(tcp?.maxConnections),
    ...requestsPerConnection(http?.maxRequestsPerConnection),
    // undici keeps a connection for the server's Keep-Alive hint (less 2s of margin) capped at
    // keepAliveMaxTimeout, or keepAliveTimeout when there is no hint: idleTimeout bounds both.
    keepAliveTimeout: Math.min(idleTimeout ?? UNHINTED_KEEP_ALIVE_MS, UNHINTED_KEEP_ALIVE_MS),
    keepAliveMaxTimeout: idleTimeout ?? DEFAULT_KEEP_ALIVE_MAX_MS,
    connect,
  });
  const fingerprint = `${http2 ? 'h2 ' : ''}${JSON.stringify(undici)}`;
  let options = sharedOptions.get(fingerprint);
  if (options === undefined) {
    options = Object.freeze({ fingerprint, undici, connect, http2, idleTimeoutMs: idleTimeout ?? DEFAULT_KEEP_ALIVE_MAX_MS });
    sharedOptions.set(fingerprint, options);
  }
  return options;
}

// Istio writes "unlimited" as 2^32-1, and 0 is proto3's unset: both are undici's null.
function connectionLimit(maxConnections: number | undefined): number | null {
  return maxConnections === undefined || maxConnections === 0 || maxConnections >= unlimited ? null : maxConnections;
}

function requestsPerConnection(max: number | undefined): Pick<Pool.Options, 'pipelining' | 'maxRequestsPerClient'> {
  if (max === undefined || max === 0) return {};
  // Istio: "Setting this parameter to 1 disables keep alive"; undici's pipelining 0 does that.
  if (max === 1) return { pipelining: 0 };
  // undici 7 counts before it increments, so it sends maxRequestsPerClient + 1 requests on a
  // connection (nodejs/undici#5033); test/upstream/pool-registry.test.ts pins this.
  return { maxRequestsPerClient: max - 1 };
}

// Node sets only the idle time before probes, in whole seconds (libuv then fixes a 1s interval and
// 10 probes on Linux; probes and interval cannot be chosen). Node documents 0 as "leave the
// default": the OS's idle time, interval and probes, which is Istio's default for an unset time.
function tcpKeepaliveDelay(tcpKeepalive: { readonly time?: number } | undefined): number {
  if (tcpKeepalive === undefined) return DEFAULT_TCP_KEEPALIVE_DELAY_MS;
  const time = tcpKeepalive.time ?? 0;
  return time <= 0 ? 0 : Math.max(time, 1_000);
}
