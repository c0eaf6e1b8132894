import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ConfigIssue } from '../config/issue.js';
import type { ConfigDump } from './config-dump.js';
import type { Logger } from '../log.js';
import type { WorkerStats } from '../process/supervisor.js';
import type { ClustersView } from './clusters.js';
import type { CertsView } from './certs.js';

// The admin port (15000), on 127.0.0.1 unless told otherwise: readiness for load balancers, and
// what the gateway is serving right now (Envoy's admin paths, so operators look where they know).
// Readiness also has a port of its own (15021, as Istio's gateways), serving nothing else.

export interface RefusedReload {
  readonly at: string;
  readonly issues: readonly ConfigIssue[];
}

export interface AdminState {
  ready(): boolean;
  configDump(): ConfigDump;
  listeners(): readonly { name: string; address: string; port: number }[];
  workers(): WorkerStats;
  clusters(): Promise<ClustersView>;
  certs(): CertsView;
  lastRefusedReload(): RefusedReload | undefined;
}

export interface AdminServer {
  address(): { address: string; port: number };
  close(): Promise<void>;
}

interface Answer {
  readonly status: number;
  readonly body: unknown;
}
type Route = (state: AdminState) => Answer | Promise<Answer>;

const readiness: Route = (state) => (state.ready() ? { status: 200, body: 'ready' } : { status: 503, body: 'not ready' });

const adminRoutes: Readonly<Record<string, Route>> = {
  '/healthz/ready': readiness,
  '/listeners': (state) => ({ status: 200, body: state.listeners() }),
  '/workers': (state) => ({ status: 200, body: state.workers() }),
  '/config_dump': (state) => ({ status: 200, body: state.configDump() }),
  '/clusters': async (state) => ({ status: 200, body: await state.clusters() }),
  '/certs': (state) => ({ status: 200, body: state.certs() }),
  '/reload': (state) => ({ status: 200, body: { lastRefused: state.lastRefusedReload() ?? null } }),
};

const readinessRoutes: Readonly<Record<string, Route>> = { '/healthz/ready': readiness };

export interface AdminServerOptions {
  readonly bind: string;
  readonly port: number;
  readonly state: AdminState;
  readonly logger: Logger;
  /** `readiness`: the readiness port, which answers /healthz/ready alone. */
  readonly only?: 'readiness';
  /** Answers a GET it serves itself (metrics, the status page) and returns true; false: the routes above. */
  readonly pages?: (path: string, res: ServerResponse) => boolean;
}

export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const routes = options.only === 'readiness' ? readinessRoutes : adminRoutes;
  const answer = async (req: IncomingMessage): Promise<Answer> => {
    const route = req.method === 'GET' ? routes[(req.url ?? '/').split('?')[0]!] : undefined;
    return route === undefined ? { status: 404, body: 'not found' } : route(options.state);
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'GET' && options.pages?.((req.url ?? '/').split('?')[0]!, res) === true) return;
    answer(req)
      .catch((err: unknown): Answer => {
        options.logger.error('admin request failed', { err, url: req.url });
        return { status: 500, body: 'internal error' };
      })
      .then(({ status, body }) => {
        const text = typeof body === 'string' ? `${body}\n` : `${JSON.stringify(body, null, 2)}\n`;
        res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' });
        res.end(text);
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.bind, () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  options.logger.info(options.only === 'readiness' ? 'readiness ready' : 'admin ready', { address, port });
  return {
    address: () => ({ address, port }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
