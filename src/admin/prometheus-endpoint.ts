import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log.js';
import type { GatewayMetrics } from '../observability/gateway-metrics.js';

// /stats/prometheus, where Istio's Prometheus scrapes a gateway: on its own port (15090, as an
// Istio proxy serves it) and on the admin port (as Envoy's admin serves it). One scrape asks
// every worker for its numbers, so what Prometheus sees is the whole gateway.

export const prometheusPath = '/stats/prometheus';

export function servePrometheus(metrics: GatewayMetrics, res: ServerResponse, logger: Logger): void {
  metrics.scrape().then(
    (text) => {
      res.writeHead(200, { 'content-type': metrics.contentType });
      res.end(text);
    },
    (err: unknown) => {
      logger.error('metrics scrape failed', { err });
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('metrics unavailable\n');
    },
  );
}

export interface PrometheusServer {
  address(): { address: string; port: number };
  close(): Promise<void>;
}

export async function startPrometheusServer(options: { bind: string; port: number; metrics: GatewayMetrics; logger: Logger }): Promise<PrometheusServer> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && (req.url ?? '/').split('?')[0] === prometheusPath) return servePrometheus(options.metrics, res, options.logger);
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.bind, () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  options.logger.info('prometheus ready', { address, port, path: prometheusPath });
  return {
    address: () => ({ address, port }),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
