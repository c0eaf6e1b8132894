import { X509Certificate } from 'node:crypto';
import { AggregatorRegistry, Counter, Gauge, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { ServerCredentials } from '../config/credentials.js';
import type { WorkerStats } from '../process/supervisor.js';
import type { MetricJson } from './metric-json.js';

// The metrics of the whole gateway, in the primary: its own (reloads, generation, workers,
// certificates) in a prom-client registry, and every worker's (Istio's standard metrics and the
// per-worker meshgate ones) collected over the cluster channel at each scrape and combined by
// prom-client's AggregatorRegistry: counters and histograms summed, gauges by their `aggregator`.

export interface GatewayMetricsSource {
  workers(): WorkerStats;
  /** Every live worker's metrics as prom-client JSON. */
  collect(): Promise<readonly (readonly MetricJson[])[]>;
}

export interface GatewayMetrics {
  /** A reload applied or refused. */
  reload(result: 'ok' | 'refused'): void;
  /** The configuration now served: its generation and its certificates' expiry. */
  applied(generation: number, credentials: ServerCredentials): void;
  /** The Prometheus text exposition of the whole gateway. */
  scrape(): Promise<string>;
  readonly contentType: string;
}

export function createGatewayMetrics(source: GatewayMetricsSource): GatewayMetrics {
  const registry = new Registry();
  const reloads = new Counter({ name: 'meshgate_config_reloads_total', help: 'Configuration reloads by result: ok (applied) or refused (errors; the last good configuration keeps serving).', labelNames: ['result'], registers: [registry] });
  reloads.inc({ result: 'ok' }, 0);
  reloads.inc({ result: 'refused' }, 0);
  const generation = new Gauge({ name: 'meshgate_config_generation', help: 'Generation of the configuration being served (1 at start, one more per applied reload).', registers: [registry] });
  const expiry = new Gauge({ name: 'meshgate_certificate_expiry_timestamp_seconds', help: 'When each served certificate expires (Unix seconds), by Gateway server (namespace/gateway#index).', labelNames: ['server', 'subject'], registers: [registry] });
  new Gauge({
    name: 'meshgate_workers',
    help: 'Worker processes running.',
    registers: [registry],
    collect() {
      this.set(source.workers().workers);
    },
  });
  let countedRestarts = 0;
  new Counter({
    name: 'meshgate_worker_restarts_total',
    help: 'Workers replaced after they died without being asked to stop.',
    registers: [registry],
    collect() {
      const restarts = source.workers().restarts;
      this.inc(restarts - countedRestarts);
      countedRestarts = restarts;
    },
  });

  return {
    reload: (result) => reloads.inc({ result }),
    applied(served, credentials) {
      generation.set(served);
      expiry.reset();
      for (const [server, credential] of Object.entries(credentials)) {
        for (const { cert } of credential.pairs) {
          const x509 = new X509Certificate(cert);
          expiry.set({ server, subject: x509.subject.replaceAll('\n', ', ') }, Math.floor(Date.parse(x509.validTo) / 1000));
        }
      }
    },
    async scrape() {
      const [workers, own] = await Promise.all([source.collect(), registry.getMetricsAsJSON()]);
      const all = [...workers, own] as unknown as MetricObjectWithValues<MetricValue<string>>[][];
      return AggregatorRegistry.aggregate(all).metrics();
    },
    contentType: registry.contentType,
  };
}
