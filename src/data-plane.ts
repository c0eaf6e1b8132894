import type { Logger } from './log.js';
import type { ListenerConfig, Snapshot } from './config/snapshot.js';
import { createHttpListener, type HttpListener } from './listeners/http-listener.js';
import { createHttpHandler, type ListenerRef } from './listeners/http-handler.js';
import { createClusterManager } from './upstream/cluster-manager.js';
import { createPoolRegistry } from './upstream/pool-registry.js';
import { createMirrors } from './upstream/mirror.js';
import type { AccessLog } from './observability/access-log.js';

// What serves traffic: the listeners and the upstream clusters of the current snapshot. Applying
// a snapshot swaps one reference per listener; listeners that did not change keep their sockets,
// so clients notice nothing. Each worker process runs one.

export interface DataPlaneOptions {
  readonly logger: Logger;
  readonly accessLog: AccessLog;
  readonly drainMs: number;
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
  /** Stops accepting, lets in-flight requests finish for up to the drain time, closes the rest. */
  stop(): Promise<void>;
}

interface OpenListener {
  readonly ref: ListenerRef;
  readonly listener: HttpListener;
}

export function createDataPlane(options: DataPlaneOptions): DataPlane {
  const { logger } = options;
  const open = new Map<string, OpenListener>();
  const draining = new Set<Promise<void>>();
  const clusters = createClusterManager({ pools: createPoolRegistry(), logger });
  const handlerDeps = { clusters, mirrors: createMirrors({ logger }), accessLog: options.accessLog, logger };

  const closeListener = (name: string): Promise<void> => {
    const entry = open.get(name);
    if (entry === undefined) return Promise.resolve();
    open.delete(name);
    const closing = entry.listener.close(options.drainMs).then(() => logger.info('listener closed', { listener: name }));
    draining.add(closing);
    return closing.finally(() => draining.delete(closing));
  };

  // Removed listeners drain in the background, so applying a snapshot never waits out a drain.
  const reconcile = async (configs: readonly ListenerConfig[], onBindFailure: 'throw' | 'report') => {
    const wanted = new Set(configs.map((c) => c.name));
    for (const name of [...open.keys()]) {
      if (!wanted.has(name)) void closeListener(name);
    }
    const failures: BindFailure[] = [];
    for (const config of configs) {
      const existing = open.get(config.name);
      if (existing !== undefined) {
        existing.ref.config = config;
        continue;
      }
      const ref: ListenerRef = { config };
      try {
        const listener = await createHttpListener({ bind: config.bind, port: config.port, logger, ...createHttpHandler(ref, handlerDeps) });
        open.set(config.name, { ref, listener });
        logger.debug('listener ready', { listener: config.name, ...listener.address() });
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
      clusters.update(snapshot.clusters);
      return reconcile(snapshot.listeners, onBindFailure);
    },
    listeners: () => [...open].map(([name, { listener }]) => ({ name, ...listener.address() })),
    async stop() {
      await Promise.all([...[...open.keys()].map(closeListener), ...draining]);
      clusters.close();
    },
  };
}
