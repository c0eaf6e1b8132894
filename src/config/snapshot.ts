import type { MeshConfigSpec } from './kinds/mesh-config.js';
import type { ConfigIssue } from './issue.js';
import type { ClusterConfig } from '../upstream/cluster.js';
import type { RouteTable } from '../routing/route-table.js';
import type { RequestView } from '../routing/request-view.js';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { CompiledCors } from '../filters/cors/cors.js';
import type { DirectResponse } from '../routing/actions/direct-response.js';
import type { Redirect, RedirectRequest } from '../routing/actions/redirect.js';
import type { Rewritten } from '../routing/actions/rewrite.js';
import type { ServerTable } from '../routing/server-table.js';
import type { TlsServerConfig } from './compile-tls.js';
import type { FaultConfig } from '../filters/fault/fault.js';
import type { MirrorPolicy } from '../upstream/mirror.js';
import type { RetryPolicy } from '../upstream/retry-policy.js';
import type { RateLimitCounters } from '../filters/ratelimit/rate-limit.js';
import type { RateLimitBackend } from '../filters/ratelimit/rate-limit-backends.js';
import type { RateLimitFilter } from '../filters/ratelimit/rate-limit.js';

// The compiled configuration: everything the data plane reads, built once per reload and
// never changed after. Listeners hold this by reference, so a reload is one assignment.

export interface Snapshot {
  readonly generation: number;
  readonly createdAt: string;
  readonly listeners: readonly ListenerConfig[];
  /** TLS passthrough and TCP listeners: raw byte streams relayed to a cluster. */
  readonly streamListeners: readonly StreamListenerConfig[];
  readonly clusters: ReadonlyMap<string, ClusterConfig>;
  /** The gateway-wide settings (MeshConfig), Istio's defaults when none is given. */
  readonly mesh: MeshConfigSpec;
  /** Where Global rate limits count, and what happens when it cannot answer. */
  readonly rateLimitBackend: RateLimitBackend;
  /** Per RateLimitPolicy, what its rules decided in this worker (readRateLimitCounts). */
  readonly rateLimitCounters: RateLimitCounters;
  /** Warnings of the validation and compile that produced this snapshot. */
  readonly warnings: readonly ConfigIssue[];
}

export type ListenerProtocol = 'HTTP' | 'HTTP2' | 'GRPC' | 'HTTPS';

export interface ListenerConfig {
  /** Istio's listener name: `${bind}_${port}`. */
  readonly name: string;
  readonly bind: string;
  readonly port: number;
  readonly protocol: ListenerProtocol;
  readonly routes: RouteTable<HttpRoute>;
  /** The Gateway servers on this port, by SNI and Host (httpsRedirect, TLS, 421). */
  readonly servers: ServerTable<ServerBlock>;
  /** Some server of this plain port has httpsRedirect; on the others a request needs no server lookup. */
  readonly redirectsToHttps: boolean;
  /** Set when the port terminates TLS (Istio never mixes plain and TLS servers on one port). */
  readonly tls?: ListenerTls;
  /** Plaintext HTTP2/GRPC ports speak h2c (prior knowledge) beside HTTP/1.1; TLS ports offer h2 by ALPN. */
  readonly http2: boolean;
  /** MeshConfig numTrustedProxies: X-Forwarded-For entries that name the client (Envoy's xff_num_trusted_hops). */
  readonly trustedProxies: number;
}

/** One Gateway server as the data plane needs it. */
export interface ServerBlock {
  /** "namespace/gateway#index". */
  readonly name: string;
  /** The server's hosts without their namespace part. */
  readonly hosts: readonly string[];
  /** Istio's tls.httpsRedirect: a plain-HTTP request answers 301 to https. */
  readonly httpsRedirect: boolean;
  readonly tls?: TlsServerConfig;
}

export interface ListenerTls {
  /** The server whose certificate a client without SNI gets: the first server of the port. */
  readonly defaultServer: ServerBlock & { readonly tls: TlsServerConfig };
}

/** A port whose connections are relayed as bytes, not parsed as HTTP (Gateway PASSTHROUGH and TCP servers). */
export interface StreamListenerConfig {
  /** Istio's listener name: `${bind}_${port}`. */
  readonly name: string;
  readonly bind: string;
  readonly port: number;
  readonly protocol: 'TLS' | 'TCP';
  /** PASSTHROUGH: read the ClientHello first, and route by its SNI. */
  readonly peekSni: boolean;
  /**
   * The terminating servers (SIMPLE, MUTUAL, OPTIONAL_MUTUAL) sharing this passthrough port, as
   * their own listener config (also in Snapshot.listeners, same name): connections `route()`
   * answers 'terminate' for are handed to them.
   */
  readonly terminating?: ListenerConfig;
  /**
   * What a connection gets: a VirtualService tls[] route by SNI, then tcp[]; 'terminate' for the
   * port's terminating servers; undefined is Envoy's "no filter chain" (NR).
   */
  route(connection: StreamConnection): StreamChoice | undefined;
}

/** A relay route, or 'terminate': the connection goes to the port's terminating servers. */
export type StreamChoice = StreamRoute | 'terminate';

export interface StreamConnection {
  /** The ClientHello's SNI, lower-cased; undefined without one (or on a TCP listener). */
  readonly serverName: string | undefined;
  /** The gateway's address the client dialled (destinationSubnets). */
  readonly localAddress: string;
  /** The client's address (sourceSubnet). */
  readonly remoteAddress: string;
}

export interface StreamRoute {
  /** A cluster name, drawn by the route's weights. */
  pickCluster(): string;
}

/** One Envoy route: Istio expands each VirtualService http[] entry into one per match block. */
export interface HttpRoute {
  /** Istio's route name: `http[].name`, joined with the match block's name when it has one; '' when unnamed. */
  readonly name: string;
  /** "namespace/name" of the VirtualService the route came from. */
  readonly virtualService: string;
  match(req: RequestView): boolean;
  readonly action: RouteAction;
  /** CORS policy of the route, answered before the action. */
  readonly cors?: CompiledCors;
  /** Route-level response header edits, for the answers the gateway gives itself (redirect, direct). */
  readonly responseHeaders?: HeaderEdit;
  /** The RateLimitPolicies that reach the route; absent when none does, and then it costs nothing. */
  readonly rateLimit?: RateLimitFilter;
}

export type HeaderEdit = (headers: OutgoingHttpHeaders | IncomingHttpHeaders) => void;

export type RouteAction =
  | { readonly kind: 'redirect'; redirect(req: RedirectRequest): Redirect }
  | ({ readonly kind: 'direct' } & DirectResponse)
  | {
      readonly kind: 'forward';
      pickDestination(): RouteDestination;
      /** Istio's http[].timeout: the whole request, 504 UT when it passes. Never set on a route with a fault. */
      readonly timeoutMs?: number;
      /** Istio's http[].retries (its default policy when absent); undefined when `attempts: 0` or the route has a fault. */
      readonly retry?: RetryPolicy;
      /** Istio's http[].fault. Istio's rule: timeouts and retries do not apply to a route that has one. */
      readonly fault?: FaultConfig;
      /** Istio's mirror/mirrors, with a percentage above 0. */
      readonly mirrors?: readonly MirrorPolicy[];
      /** Rewrites the path (query included) and authority sent upstream (Istio's rewrite). */
      rewrite?(path: string, authority: string): Rewritten;
    };

export interface RouteDestination {
  /** Cluster name, `outbound|port|subset|host`. */
  readonly cluster: string;
  /** Route- then destination-level `headers.request` edits, compiled into one. */
  readonly requestHeaders?: HeaderEdit;
  /** Route- then destination-level `headers.response` edits, compiled into one. */
  readonly responseHeaders?: HeaderEdit;
  /** The authority a `host` entry in `headers.request` sets, as Istio treats it (rewrite.authority still wins). */
  readonly authority?: string;
}
