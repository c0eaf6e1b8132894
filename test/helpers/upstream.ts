import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// A real HTTP upstream on 127.0.0.1:0 that answers with its name and what it received, and
// counts what it served, so tests assert on what actually crossed the gateway.

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
}

export interface TestUpstream {
  readonly name: string;
  readonly port: number;
  readonly seen: SeenRequest[];
  close(): Promise<void>;
}

export type UpstreamHandler = (req: IncomingMessage, res: ServerResponse, name: string) => void;

const echo: UpstreamHandler = (req, res, name) => {
  res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': name });
  res.end(JSON.stringify({ upstream: name, method: req.method, url: req.url, headers: req.headers }));
};

export async function startUpstream(name: string, handler: UpstreamHandler = echo, port = 0): Promise<TestUpstream> {
  const seen: SeenRequest[] = [];
  const server: Server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    handler(req, res, name);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    name,
    port: (server.address() as AddressInfo).port,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
