import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ConfigIssue } from '../config/issue.js';
import type { ConfigDump } from './config-dump.js';
import type { Logger } from '../log.js';
import type { WorkerStats } from '../process/supervisor.js';

// The admin port, on 127.0.0.1 unless told otherwise: readiness for load balancers, and what
// the gateway is serving right now (Envoy's admin paths, so operators look where they know).

export interface RefusedReload {
  readonly at: string;
  readonly issues: readonly ConfigIssue[];
}

export interface AdminState {
  ready(): boolean;
  configDump(): ConfigDump;
  listeners(): readonly { name: string; address: string; port: number }[];
  workers(): WorkerStats;
  lastRefusedReload(): RefusedReload | undefined;
}

export interface AdminServer {
  address(): { address: string; port: number };
  close(): Promise<void>;
}

type Route = (state: AdminState) => { status: number; body: unknown };

const routes: Readonly<Record<string, Route>> = {
  '/healthz/ready': (state) => (state.ready() ? { status: 200, body: 'ready' } : { status: 503, body: 'not ready' }),
  '/listeners': (state) => ({ status: 200, body: state.listeners() }),
  '/workers': (state) => ({ status: 200, body: state.workers() }),
  '/config_dump': (state) => ({ status: 200, body: state.configDump() }),
  '/reload': (state) => ({ status: 200, body: { lastRefused: state.lastRefusedReload() ?? null } }),
};

export interface AdminServerOptions {
  readonly bind: string;
  readonly port: number;
  readonly state: AdminState;
  readonly logger: Logger;
  /** Answers a GET it serves itself (metrics, the status page) and returns true; false: the routes above. */
  readonly pages?: (path: string, res: ServerResponse) => boolean;
}

export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'GET' && options.pages?.((req.url ?? '/').split('?')[0]!, res) === true) return;
    const route = req.method === 'GET' ? routes[(req.url ?? '/').split('?')[0]!] : undefined;
    const { status, body } = route === undefined ? { status: 404, body: 'not found' } : route(options.state);
    const text = typeof body === 'string' ? `${body}\n` : `${JSON.stringify(body, null, 2)}\n`;
    res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' });
    res.end(text);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.bind, () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  options.logger.info('admin ready', { address, port });
  return {
    address: () => ({ address, port }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
