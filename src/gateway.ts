import { MeshgateError } from './errors.js';
import type { Logger } from './log.js';
import { buildSnapshot } from './config/pipeline.js';
import { formatIssue } from './config/issue.js';
import type { ConfigIssue } from './config/issue.js';
import type { ListenerConfig, Snapshot } from './config/snapshot.js';
import { watchConfig, type ConfigWatcher } from './config/watch.js';
import { startAdminServer, type AdminServer, type RefusedReload } from './admin/admin-server.js';
import { createHttpListener, type HttpListener } from './listeners/http-listener.js';
import { createHttpHandler, type ListenerRef } from './listeners/http-handler.js';
import { createClusterManager } from './upstream/cluster-manager.js';
import { createPoolRegistry } from './upstream/pool-registry.js';
import type { AccessLog } from './observability/access-log.js';

// The composition root: config pipeline -> snapshot -> listeners, clusters and the admin
// port. A reload builds a whole new snapshot and swaps one reference; listeners that did not
// change keep their sockets, so clients notice nothing.

export interface GatewayOptions {
  readonly configPaths: readonly string[];
  readonly namespace: string;
  readonly admin?: { readonly bind: string; readonly port: number };
  readonly drainMs: number;
  readonly watch: boolean;
  readonly logger: Logger;
  readonly accessLog: AccessLog;
}

export interface ReloadResult {
  readonly applied: boolean;
  readonly generation: number;
  readonly issues: readonly ConfigIssue[];
}

export interface Gateway {
  snapshot(): Snapshot;
  /** Bound addresses by listener name (the port really bound, useful with port 0). */
  listeners(): readonly { name: string; address: string; port: number }[];
  adminAddress(): { address: string; port: number } | undefined;
  reload(reason: string): Promise<ReloadResult>;
  stop(): Promise<void>;
}

interface OpenListener {
  readonly ref: ListenerRef;
  readonly listener: HttpListener;
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { logger } = options;
  // Watching starts before the first load, so an edit made while the gateway starts is not lost.
  let changedDuringStart = false;
  let onFileChange = () => {
    changedDuringStart = true;
  };
  const watcher: ConfigWatcher | undefined = options.watch ? await watchConfig(options.configPaths, () => onFileChange()) : undefined;
  const first = await buildSnapshot({ paths: options.configPaths, defaultNamespace: options.namespace, generation: 1 });
  logIssues(logger, first.issues);
  if (first.snapshot === undefined) {
    watcher?.close();
    throw new MeshgateError('MG_ERR_CONFIG_REFUSED', `configuration has errors:\n${first.issues.filter((i) => i.severity === 'error').map(formatIssue).join('\n')}`);
  }

  let current: Snapshot = first.snapshot;
  let ready = false;
  let lastRefused: RefusedReload | undefined;
  let reloading: Promise<unknown> = Promise.resolve();
  const open = new Map<string, OpenListener>();
  const clusters = createClusterManager({ pools: createPoolRegistry(), logger });
  const handlerDeps = { clusters, accessLog: options.accessLog, logger };
  const draining = new Set<Promise<void>>();
  const closeListener = (name: string): Promise<void> => {
    const entry = open.get(name);
    if (entry === undefined) return Promise.resolve();
    open.delete(name);
    const closing = entry.listener.close(options.drainMs).then(() => logger.info('listener closed', { listener: name }));
    draining.add(closing);
    return closing.finally(() => draining.delete(closing));
  };
  const listenerAddresses = () => [...open].map(([name, { listener }]) => ({ name, ...listener.address() }));

  // Removed listeners drain in the background, so a reload never waits out the drain timeout.
  // A listener that cannot bind fails the start; on a reload it is logged and the rest serves,
  // as Envoy keeps its other listeners when one fails.
  const reconcileListeners = async (configs: readonly ListenerConfig[], onBindFailure: 'throw' | 'log') => {
    const wanted = new Set(configs.map((c) => c.name));
    for (const name of [...open.keys()]) {
      if (!wanted.has(name)) void closeListener(name);
    }
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
        logger.info('listener ready', { listener: config.name, ...listener.address() });
      } catch (err) {
        if (onBindFailure === 'throw') throw err;
        logger.error('listener could not bind; the other listeners keep serving', { listener: config.name, err });
      }
    }
  };

  const apply = async (snapshot: Snapshot, onBindFailure: 'throw' | 'log') => {
    clusters.update(snapshot.clusters);
    current = snapshot;
    await reconcileListeners(snapshot.listeners, onBindFailure);
  };

  await apply(current, 'throw');
  const admin: AdminServer | undefined =
    options.admin === undefined
      ? undefined
      : await startAdminServer({
          ...options.admin,
          logger,
          state: {
            ready: () => ready,
            snapshot: () => current,
            listeners: () => listenerAddresses(),
            lastRefusedReload: () => lastRefused,
          },
        });

  const rebuild = async (reason: string): Promise<ReloadResult> => {
    const generation = current.generation + 1;
    const result = await buildSnapshot({ paths: options.configPaths, defaultNamespace: options.namespace, generation });
    logIssues(logger, result.issues);
    if (result.snapshot === undefined) {
      lastRefused = { at: new Date().toISOString(), issues: result.issues };
      logger.error('config reload refused; the last good config keeps serving', {
        reason,
        generation: current.generation,
        errors: result.issues.filter((i) => i.severity === 'error').length,
      });
      return { applied: false, generation: current.generation, issues: result.issues };
    }
    await apply(result.snapshot, 'log');
    logger.info('config reloaded', { reason, generation });
    return { applied: true, generation, issues: result.issues };
  };

  // Reloads run one at a time, in order (a burst of edits ends on the newest files), and never
  // reject: the watcher and SIGHUP fire and forget, and a failed reload must not end the process.
  const reload = (reason: string): Promise<ReloadResult> => {
    const run = reloading.then(() =>
      rebuild(reason).catch((err: unknown): ReloadResult => {
        logger.error('config reload failed; the last good config keeps serving', { reason, err });
        return { applied: false, generation: current.generation, issues: [] };
      }),
    );
    reloading = run;
    return run;
  };

  onFileChange = () => void reload('file change');
  if (changedDuringStart) void reload('file change during start');
  ready = true;

  return {
    snapshot: () => current,
    listeners: listenerAddresses,
    adminAddress: () => admin?.address(),
    reload,
    async stop() {
      // Not ready first, so a load balancer stops sending before the sockets close.
      ready = false;
      watcher?.close();
      await Promise.all([...[...open.keys()].map(closeListener), ...draining]);
      clusters.close();
      await admin?.close();
    },
  };
}

function logIssues(logger: Logger, issues: readonly ConfigIssue[]): void {
  for (const issue of issues) {
    (issue.severity === 'error' ? logger.error : logger.warn)(formatIssue(issue), { code: issue.code });
  }
}
