import type { Logger } from './log.js';
import type { ListenerConfig, Snapshot, StreamListenerConfig } from './config/snapshot.js';
import { createHttpListener } from './listeners/http-listener.js';
import { createHttpHandler } from './listeners/http-handler.js';
import { createH2Acceptor, createH2Listener } from './listeners/h2-listener.js';
import { createStreamListener } from './listeners/stream-listener.js';
import { createStreamHandler } from './listeners/stream-handler.js';
import { createClusterManager } from './upstream/cluster-manager.js';
import type { ClusterStatus } from './upstream/cluster.js';
import { createPoolRegistry } from './upstream/pool-registry.js';
import { createMirrors } from './upstream/mirror.js';
import { accessLogSettingsOf, type AccessLog } from './observability/access-log.js';
import { tracingSettingsOf, type Tracing } from './observability/tracing.js';
import { createIstioMetrics, type SourceWorkload } from './observability/istio-metrics.js';
import { workerMetricsJson } from './observability/worker-metrics.js';
import { createRateLimitMetrics } from './observability/rate-limit-metrics.js';
import type { MetricJson } from './observability/metric-json.js';
import { createRateLimitBackends } from './filters/ratelimit/rate-limit-backends.js';
import type { Consumed, LimitSpec } from './filters/ratelimit/limit-spec.js';
import type { TicketKeys } from './listeners/ticket-keys.js';

// What serves traffic: the listeners and the upstream clusters of the current snapshot. Applying
// a snapshot swaps one reference per listener; listeners that did not change keep their sockets,
// so clients notice nothing. Each worker process runs one.

export interface DataPlaneOptions {
  readonly logger: Logger;
  readonly accessLog: AccessLog;
  readonly tracing: Tracing;
  readonly drainMs: number;
  /** Who the gateway is in Istio's metrics (source_workload...). */
  readonly source: SourceWorkload;
  /** Workers of the gateway: with more than one, Local rate limits are counted by the primary. */
  readonly workers: number;
  /** Sends a Local rate-limit check to the primary (several workers). */
  readonly askRateLimit: (id: number, limit: LimitSpec, key: string) => void;
  /** The session-ticket keys every TLS listener uses (the primary's, the same in every worker). */
  readonly ticketKeys: TicketKeys;
}

export interface ListenerAddress {
  readonly name: string;
  readonly address: string;
  readonly port: number;
}

export interface BindFailure {
  readonly listener: string;
  readonly message: string;
}

export interface DataPlane {
  /**
   * Serves `snapshot` from now on. A listener that cannot bind throws when `onBindFailure` is
   * 'throw' (a start); otherwise it is logged and returned, and the rest serves (a reload, as
   * Envoy keeps its other listeners when one fails).
   */
  apply(snapshot: Snapshot, onBindFailure: 'throw' | 'report'): Promise<readonly BindFailure[]>;
  listeners(): readonly ListenerAddress[];
  /** This worker's metrics, as prom-client JSON for the primary to add up. */
  metrics(): MetricJson[];
  clusterStatus(): readonly ClusterStatus[];
  /** The primary's answer to a Local rate-limit check. */
  rateLimitResult(id: number, result: Consumed): void;
  /** Stops accepting, lets in-flight requests finish for up to the drain time, closes the rest. */
  stop(): Promise<void>;
}

/**
 * A listener of one kind; a reload swaps its config in place. Plain HTTP/1.1 ports are fastify's
 * ('http'); TLS and HTTP/2 ports the h2 listener's ('h2'); passthrough and TCP ports relay bytes
 * ('stream'); a passthrough port with terminating servers too ('mixed') relays or, by SNI, hands
 * the connection to an h2 acceptor that does not listen itself.
 */
type WantedListener =
  | { readonly kind: 'http'; readonly config: ListenerConfig }
  | { readonly kind: 'h2'; readonly config: ListenerConfig }
  | { readonly kind: 'stream'; readonly config: StreamListenerConfig }
  | { readonly kind: 'mixed'; readonly config: StreamListenerConfig; readonly terminating: ListenerConfig };

function wantedListeners(snapshot: Snapshot): WantedListener[] {
  const mixed = new Set(snapshot.streamListeners.filter((config) => config.terminating !== undefined).map((config) => config.name));
  return [
    ...snapshot.listeners
      .filter((config) => !mixed.has(config.name))
      .map((config): WantedListener => ({ kind: config.tls !== undefined || config.http2 ? 'h2' : 'http', config })),
    ...snapshot.streamListeners.map(
      (config): WantedListener => (config.terminating === undefined ? { kind: 'stream', config } : { kind: 'mixed', config, terminating: config.terminating }),
    ),
  ];
}

interface OpenListener {
  readonly kind: WantedListener['kind'];
  readonly listener: { address(): { address: string; port: number }; connections(): number; close(drainMs: number): Promise<void> };
  /** Points the listener's handlers at a reloaded config (always of the same kind: a kind change reopens). */
  apply(wanted: WantedListener): void;
}

export function createDataPlane(options: DataPlaneOptions): DataPlane {
  const { logger, ticketKeys } = options;
  const open = new Map<string, OpenListener>();
  const draining = new Set<Promise<void>>();
  const pools = createPoolRegistry();
  const clusters = createClusterManager({ pools, logger });
  const rateLimitMetrics = createRateLimitMetrics();
  const rateLimits = createRateLimitBackends({ workers: options.workers, logger, ask: options.askRateLimit });
  // Series outlive reloads (counters never go back), so a cluster is described when first counted.
  const metrics = createIstioMetrics(options.source, (name) => {
    const config = clusters.get(name)?.config;
    if (config === undefined) return undefined;
    const version = config.subsetLabels?.version;
    return { host: config.host, ...(config.serviceNamespace === undefined ? {} : { namespace: config.serviceNamespace }), ...(version === undefined ? {} : { version }) };
  });
  const handlerDeps = { clusters, mirrors: createMirrors({ logger }), accessLog: options.accessLog, tracing: options.tracing, metrics, logger, rateLimits };

  const closeListener = (name: string): Promise<void> => {
    const entry = open.get(name);
    if (entry === undefined) return Promise.resolve();
    open.delete(name);
    const closing = entry.listener.close(options.drainMs).then(() => logger.info('listener closed', { listener: name }));
    draining.add(closing);
    return closing.finally(() => draining.delete(closing));
  };

  const openListener = async (wanted: WantedListener): Promise<OpenListener> => {
    const { bind, port } = wanted.config;
    switch (wanted.kind) {
      case 'http': {
        const ref = { config: wanted.config };
        const listener = await createHttpListener({ bind, port, logger, ...createHttpHandler(ref, handlerDeps) });
        return {
          kind: 'http',
          listener,
          apply(next) {
            if (next.kind === 'http') ref.config = next.config;
          },
        };
      }
      case 'h2': {
        const ref = { config: wanted.config };
        const listener = await createH2Listener({ bind, port, logger, ticketKeys, config: wanted.config, ...createHttpHandler(ref, handlerDeps) });
        return {
          kind: 'h2',
          listener,
          apply(next) {
            if (next.kind !== 'h2') return;
            ref.config = next.config;
            listener.update(next.config);
          },
        };
      }
      case 'stream': {
        const ref = { config: wanted.config };
        const listener = await createStreamListener({ bind, port, logger, onConnection: createStreamHandler(ref, handlerDeps) });
        return {
          kind: 'stream',
          listener,
          apply(next) {
            if (next.kind === 'stream') ref.config = next.config;
          },
        };
      }
      case 'mixed': {
        const httpRef = { config: wanted.terminating };
        const tls = createH2Acceptor({ logger, ticketKeys, config: wanted.terminating, ...createHttpHandler(httpRef, handlerDeps) });
        const ref = { config: wanted.config };
        const relay = await createStreamListener({ bind, port, logger, onConnection: createStreamHandler(ref, handlerDeps, tls.accept) }).catch(async (err: unknown) => {
          await tls.close(0);
          throw err;
        });
        return {
          kind: 'mixed',
          listener: {
            address: relay.address,
            connections: relay.connections,
            // Handed-over connections are the relay listener's sockets too: it waits for them.
            close: async (drainMs) => {
              await Promise.all([tls.close(drainMs), relay.close(drainMs)]);
            },
          },
          apply(next) {
            if (next.kind !== 'mixed') return;
            ref.config = next.config;
            httpRef.config = next.terminating;
            tls.update(next.terminating);
          },
        };
      }
    }
  };

  // Removed listeners drain in the background, so applying a snapshot never waits out a drain.
  // A port that changes kind (HTTP/1.1, TLS or HTTP/2, stream, mixed) is closed and opened again.
  const reconcile = async (wantedListeners: readonly WantedListener[], onBindFailure: 'throw' | 'report') => {
    const wanted = new Map(wantedListeners.map((w) => [w.config.name, w.kind]));
    for (const [name, { kind }] of [...open]) {
      if (wanted.get(name) !== kind) void closeListener(name);
    }
    const failures: BindFailure[] = [];
    for (const wantedListener of wantedListeners) {
      const { config } = wantedListener;
      const existing = open.get(config.name);
      if (existing !== undefined) {
        existing.apply(wantedListener);
        continue;
      }
      try {
        const entry = await openListener(wantedListener);
        open.set(config.name, entry);
        logger.debug('listener ready', { listener: config.name, ...entry.listener.address() });
      } catch (err) {
        if (onBindFailure === 'throw') throw err;
        logger.error('listener could not bind; the other listeners keep serving', { listener: config.name, err });
        failures.push({ listener: config.name, message: err instanceof Error ? err.message : String(err) });
      }
    }
    return failures;
  };

  return {
    async apply(snapshot, onBindFailure) {
      options.accessLog.configure(accessLogSettingsOf(snapshot.mesh));
      await options.tracing.configure(tracingSettingsOf(snapshot.mesh));
      clusters.update(snapshot.clusters);
      rateLimitMetrics.swap(snapshot.rateLimitCounters);
      rateLimits.configure(snapshot.rateLimitBackend);
      return reconcile(wantedListeners(snapshot), onBindFailure);
    },
    clusterStatus: () => [...clusters.all()].map(({ cluster }) => cluster.status()),
    listeners: () => [...open].map(([name, { listener }]) => ({ name, ...listener.address() })),
    metrics: () => [
      ...metrics.toJson(),
      ...workerMetricsJson(clusters, pools, [...open].map(([listener, entry]) => ({ listener, connections: entry.listener.connections() }))),
      rateLimitMetrics.toJson(),
    ],
    rateLimitResult: (id, result) => rateLimits.onResult(id, result),
    async stop() {
      await Promise.all([...[...open.keys()].map(closeListener), ...draining]);
      clusters.close();
      await rateLimits.close();
    },
  };
}
