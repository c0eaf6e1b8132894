import cluster from 'node:cluster';
import { createLogger } from '../log.js';
import { compileSnapshot } from '../config/compile.js';
import { createDataPlane } from '../data-plane.js';
import { createAccessLog } from '../observability/access-log.js';
import { createTracing } from '../observability/tracing.js';
import { createTicketKeys } from '../listeners/ticket-keys.js';
import { fromWire, workerSettingsVariable, type PrimaryMessage, type WorkerMessage, type WorkerSettings } from './messages.js';

// A worker process: it serves traffic from the configuration the primary sends. It never reads
// config files; it compiles what the primary validated (matchers are closures and cannot cross
// processes) and swaps it in, so a reload touches no socket that did not change.

const settings = JSON.parse(process.env[workerSettingsVariable] ?? '{}') as WorkerSettings;
const logger = createLogger({ level: settings.logLevel, fields: { worker: cluster.worker?.id } });
const accessLog = createAccessLog();
const tracing = createTracing();
const send = (message: WorkerMessage) => process.send?.(message);
// The primary's keys replace these before its first config arrives (it sends them first).
const ticketKeys = createTicketKeys();
const dataPlane = createDataPlane({
  logger,
  accessLog,
  tracing,
  drainMs: settings.drainMs,
  source: settings.source,
  workers: settings.workers,
  askRateLimit: (id, limit, key) => send({ type: 'rate-limit', id, limit, key }),
  ticketKeys,
});

let applying: Promise<unknown> = Promise.resolve();
let draining = false;

const drain = () => {
  if (draining) return;
  draining = true;
  void applying
    .then(() => dataPlane.stop())
    // The spans of the last requests reach the collector before the process ends.
    .then(() => tracing.shutdown().catch((err: unknown) => logger.warn('spans not exported', { err })))
    .then(() => {
      accessLog.flush();
      process.exit(0);
    });
};

process.on('message', (message: PrimaryMessage) => {
  if (message.type === 'drain') return drain();
  if (message.type === 'metrics') return send({ type: 'metrics', id: message.id, metrics: dataPlane.metrics() });
  if (message.type === 'clusters') return send({ type: 'clusters', id: message.id, clusters: dataPlane.clusterStatus() });
  if (message.type === 'rate-limit-result') return dataPlane.rateLimitResult(message.id, message.result);
  if (message.type === 'ticket-keys') return ticketKeys.rotate(message.keys);
  // Configurations apply in the order they were sent.
  const { config, generation, strict } = message;
  applying = applying.then(async () => {
    try {
      const { snapshot } = compileSnapshot(fromWire(config), generation, config.credentials, config.rateLimitSecrets);
      const bindFailures = await dataPlane.apply(snapshot, strict ? 'throw' : 'report');
      send({ type: 'applied', generation, listeners: dataPlane.listeners(), bindFailures });
    } catch (err) {
      send({ type: 'failed', generation, message: err instanceof Error ? err.message : String(err) });
    }
  });
});

send({ type: 'listening' });

// Ctrl-C reaches every process of the group: the primary decides how the workers stop.
process.on('SIGINT', () => undefined);
// A worker told to stop on its own drains and exits; the primary replaces it.
process.on('SIGTERM', drain);
// The primary is gone (killed with SIGKILL, say): nobody will coordinate a drain any more.
process.on('disconnect', drain);
