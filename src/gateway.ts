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
  const first = await buildSnapshot({ paths: options.configPaths, defaultNamespace: options.namespace, generation: 1 });
  logIssues(logger, first.issues);
  if (first.snapshot === undefined) {
    throw new MeshgateError('MG_ERR_CONFIG_REFUSED', `configuration has errors:\n${first.issues.filter((i) => i.severity === 'error').map(formatIssue).join('\n')}`);
  }

  let current: Snapshot = first.snapshot;
  let ready = false;
  let lastRefused: RefusedReload | undefined;
  let reloading: Promise<unknown> = Promise.resolve();
  const open = new Map<string, OpenListener>();
  const clusters = createClusterManager({ pools: createPoolRegistry(), logger });
  const handlerDeps = { clusters, accessLog: options.accessLog, logger };
  const closeListener = async (name: string) => {
    const entry = open.get(name);
    if (entry === undefined) return;
    open.delete(name);
    await entry.listener.close(options.drainMs);
    logger.info('listener closed', { listener: name });
  };
  const listenerAddresses = () => [...open].map(([name, { listener }]) => ({ name, ...listener.address() }));

  const reconcileListeners = async (configs: readonly ListenerConfig[]) => {
    const wanted = new Map(configs.map((c) => [c.name, c]));
    for (const name of open.keys()) {
      if (!wanted.has(name)) await closeListener(name);
    }
    for (const config of configs) {
      const existing = open.get(config.name);
      if (existing !== undefined) {
        existing.ref.config = config;
        continue;
      }
      const ref: ListenerRef = { config };
      const handler = createHttpHandler(ref, handlerDeps);
      const listener = await createHttpListener({ bind: config.bind, port: config.port, logger, ...handler });
      open.set(config.name, { ref, listener });
      logger.info('listener ready', { listener: config.name, ...listener.address() });
    }
  };

  const apply = async (snapshot: Snapshot) => {
    clusters.update(snapshot.clusters);
    current = snapshot;
    await reconcileListeners(snapshot.listeners);
  };

  await apply(current);
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

  const reload = (reason: string): Promise<ReloadResult> => {
    // Reloads run one at a time, in order: a burst of edits ends on the newest files.
    const run = reloading.then(async (): Promise<ReloadResult> => {
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
      await apply(result.snapshot);
      logger.info('config reloaded', { reason, generation });
      return { applied: true, generation, issues: result.issues };
    });
    reloading = run.catch(() => undefined);
    return run;
  };

  let watcher: ConfigWatcher | undefined;
  if (options.watch) watcher = await watchConfig(options.configPaths, () => void reload('file change'));
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
      await Promise.all([...open.keys()].map(closeListener));
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
