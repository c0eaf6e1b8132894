import { createServer, type Server } from 'node:http';
import type { Logger } from './log.js';
import { buildSnapshot } from './config/pipeline.js';

// `meshgate demo`: an echo server on every loopback endpoint a config names, so that a newcomer
// can curl the example config (and watch canary weights and header routes pick versions)
// before any real service exists. Each answer says which endpoint and labels served it.

export interface DemoUpstreams {
  close(): Promise<void>;
}

const loopback = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

export async function startDemoUpstreams(paths: readonly string[], namespace: string, certsDir: string, logger: Logger): Promise<DemoUpstreams> {
  const { snapshot } = await buildSnapshot({ paths, defaultNamespace: namespace, generation: 0, certsDir });
  const endpoints = new Map<string, { address: string; port: number; labels: Readonly<Record<string, string>>; services: Set<string> }>();
  for (const cluster of snapshot?.clusters.values() ?? []) {
    if (cluster.endpoints.kind !== 'static') continue;
    for (const endpoint of cluster.endpoints.endpoints) {
      if (!loopback.test(endpoint.address)) continue;
      const key = `${endpoint.address}:${endpoint.port}`;
      const entry = endpoints.get(key) ?? { ...endpoint, services: new Set<string>() };
      entry.services.add(cluster.host);
      endpoints.set(key, entry);
    }
  }
  const servers: Server[] = [];
  for (const [key, endpoint] of endpoints) {
    const server = createServer((req, res) => {
      const body = JSON.stringify({
        endpoint: key,
        services: [...endpoint.services],
        labels: endpoint.labels,
        request: { method: req.method, url: req.url, headers: req.headers },
      }, null, 2);
      res.writeHead(200, { 'content-type': 'application/json' }).end(`${body}\n`);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(endpoint.port, endpoint.address, () => resolve());
    });
    servers.push(server);
    logger.info('demo upstream ready', { endpoint: key, labels: endpoint.labels });
  }
  return {
    close: async () => {
      // A curl or browser holding a keep-alive connection must not keep the demo from exiting.
      await Promise.all(
        servers.map((s) => {
          const closed = new Promise<void>((resolve) => s.close(() => resolve()));
          s.closeAllConnections();
          return closed;
        }),
      );
    },
  };
}
