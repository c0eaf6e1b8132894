import type { ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { MeshgateError } from './errors.js';
import type { Logger, LogLevel } from './log.js';
import { buildSnapshot } from './config/pipeline.js';
import { formatIssue } from './config/issue.js';
import type { ConfigIssue } from './config/issue.js';
import { watchConfig, type ConfigWatcher } from './config/watch.js';
import { startAdminServer, type RefusedReload } from './admin/admin-server.js';
import { createSupervisor, type ConnectionBalance, type WorkerReport } from './process/supervisor.js';
import { toWire } from './process/messages.js';
import { createConfigDump, type ConfigDump } from './admin/config-dump.js';
import { createGatewayMetrics } from './observability/gateway-metrics.js';
import type { SourceWorkload } from './observability/istio-metrics.js';
import { prometheusPath, servePrometheus, startPrometheusServer } from './admin/prometheus-endpoint.js';
import { serveStatusPage } from './admin/status-page.js';
import { mergeClusterStatus } from './admin/clusters.js';
import { createCertsView, type CertsView } from './admin/certs.js';

// The composition root, in the primary process: config pipeline -> snapshot -> workers, the
// admin port and the file watcher. The primary loads and validates once and hands the result to
// every worker; it never serves traffic itself. A reload builds a whole new snapshot; workers
// swap it in without touching a socket that did not change, so clients notice nothing.

export interface GatewayOptions {
  readonly configPaths: readonly string[];
  /** The certs folder: credentialName folders and relative certificate paths; watched like the config. */
  readonly certsDir: string;
  readonly namespace: string;
  readonly workers: number;
  readonly connectionBalance: ConnectionBalance;
  /** The admin port and the readiness port (both on `bind`); none when undefined. */
  readonly admin?: { readonly bind: string; readonly port: number; readonly readinessPort: number };
  /** Where /stats/prometheus is served besides the admin port (Istio's 15090). */
  readonly prometheus?: { readonly bind: string; readonly port: number };
  /** The gateway's name and namespace in Istio's metrics (source_workload, source_workload_namespace). */
  readonly source: SourceWorkload;
  readonly drainMs: number;
  readonly watch: boolean;
  readonly logger: Logger;
  readonly logLevel: LogLevel;
}

export interface ReloadResult {
  readonly applied: boolean;
  readonly generation: number;
  readonly issues: readonly ConfigIssue[];
}

export interface Gateway {
  reload(reason: string): Promise<ReloadResult>;
  /** Not ready, drain every worker, close the admin port. */
  stop(): Promise<void>;
  /** Ends the workers at once (a second SIGTERM). */
  kill(): void;
}

const workerScript = fileURLToPath(new URL('./process/worker-main.js', import.meta.url));

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { logger } = options;
  // Watching starts before the first load, so an edit made while the gateway starts is not lost.
  let changedDuringStart = false;
  let onFileChange = () => {
    changedDuringStart = true;
  };
  const watcher: ConfigWatcher | undefined = options.watch ? await watchConfig([...options.configPaths, options.certsDir], () => onFileChange()) : undefined;

  const first = await buildSnapshot({ paths: options.configPaths, defaultNamespace: options.namespace, generation: 1, certsDir: options.certsDir });
  logIssues(logger, first.issues);
  if (first.snapshot === undefined || first.config === undefined) {
    watcher?.close();
    throw new MeshgateError('MG_ERR_CONFIG_REFUSED', `configuration has errors:\n${first.issues.filter((i) => i.severity === 'error').map(formatIssue).join('\n')}`);
  }

  // Plain data only: the compiled snapshot is the workers'; see config-dump.ts.
  const firstWire = toWire(first.config, first.credentials, first.rateLimitSecrets);
  let current: ConfigDump = createConfigDump(first.snapshot, firstWire);
  let certs: CertsView = createCertsView(first.credentials ?? {});
  let ready = false;
  let lastRefused: RefusedReload | undefined;
  const supervisor = createSupervisor({
    count: options.workers,
    connectionBalance: options.connectionBalance,
    exec: workerScript,
    settings: { logLevel: options.logLevel, drainMs: options.drainMs, source: options.source, workers: options.workers },
    logger,
  });
  const metrics = createGatewayMetrics({ workers: () => supervisor.stats(), collect: () => supervisor.collectMetrics() });
  metrics.applied(current.generation, first.credentials ?? {});

  // Readiness is served from the start (503 until every worker serves), so a load balancer never
  // sends to an instance that is still starting.
  const state = {
    ready: () => ready,
    configDump: () => current,
    listeners: () => supervisor.listeners(),
    workers: () => supervisor.stats(),
    clusters: async () => mergeClusterStatus(await supervisor.clusterStatus()),
    certs: () => certs,
    lastRefusedReload: () => lastRefused,
  };
  const pages = (path: string, res: ServerResponse) => {
    if (path !== prometheusPath) return serveStatusPage(path, res);
    servePrometheus(metrics, res, logger);
    return true;
  };
  const adminServers: { close(): Promise<void> }[] = [];
  const closeAdmin = () => Promise.all(adminServers.map((server) => server.close()));
  try {
    if (options.admin !== undefined) {
      const { bind, port, readinessPort } = options.admin;
      adminServers.push(await startAdminServer({ bind, port, state, logger, pages }));
      adminServers.push(await startAdminServer({ bind, port: readinessPort, state, logger, only: 'readiness' }));
    }
    if (options.prometheus !== undefined) adminServers.push(await startPrometheusServer({ ...options.prometheus, metrics, logger }));
  } catch (err) {
    watcher?.close();
    await closeAdmin();
    throw new MeshgateError('MG_ERR_LISTEN', `an admin port could not bind: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }

  try {
    const report = await supervisor.start(current.generation, firstWire);
    logger.info('gateway ready', { generation: current.generation, workers: options.workers, listeners: report.listeners });
  } catch (err) {
    supervisor.kill();
    watcher?.close();
    await closeAdmin();
    throw new MeshgateError('MG_ERR_LISTEN', `the workers could not start: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }

  const rebuild = async (reason: string): Promise<ReloadResult> => {
    const generation = current.generation + 1;
    const result = await buildSnapshot({ paths: options.configPaths, defaultNamespace: options.namespace, generation, certsDir: options.certsDir });
    logIssues(logger, result.issues);
    if (result.snapshot === undefined || result.config === undefined) {
      lastRefused = { at: new Date().toISOString(), issues: result.issues };
      metrics.reload('refused');
      logger.error('config reload refused; the last good config keeps serving', {
        reason,
        generation: current.generation,
        errors: result.issues.filter((i) => i.severity === 'error').length,
      });
      return { applied: false, generation: current.generation, issues: result.issues };
    }
    const wire = toWire(result.config, result.credentials, result.rateLimitSecrets);
    current = createConfigDump(result.snapshot, wire);
    certs = createCertsView(result.credentials ?? {});
    logApplied(logger, await supervisor.update(generation, wire), reason, generation);
    metrics.reload('ok');
    metrics.applied(generation, result.credentials ?? {});
    return { applied: true, generation, issues: result.issues };
  };

  // Reloads run one at a time, in order (a burst of edits ends on the newest files), and never
  // reject: the watcher and SIGHUP fire and forget, and a failed reload must not end the process.
  let reloading: Promise<unknown> = Promise.resolve();
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
    reload,
    async stop() {
      // Not ready first, so a load balancer stops sending before the sockets close.
      ready = false;
      watcher?.close();
      await supervisor.stop();
      await closeAdmin();
    },
    kill: () => supervisor.kill(),
  };
}

function logApplied(logger: Logger, report: WorkerReport, reason: string, generation: number): void {
  for (const failure of report.bindFailures) {
    logger.error('listener could not bind; the other listeners keep serving', { listener: failure.listener, error: failure.message });
  }
  logger.info('config reloaded', { reason, generation, listeners: report.listeners });
}

function logIssues(logger: Logger, issues: readonly ConfigIssue[]): void {
  for (const issue of issues) {
    (issue.severity === 'error' ? logger.error : logger.warn)(formatIssue(issue), { code: issue.code });
  }
}
