import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

// A real HTTP server on 127.0.0.1:0 that numbers its TCP connections, so tests see how a client
// pools them: each answer is "<url> on connection <n>", n counting accepted connections from 1.

export interface CountingServerOptions {
  /** Holds every response back this long. */
  readonly holdMs?: number;
  /** Node's keepAliveTimeout, which it also sends as the Keep-Alive hint "timeout=<s>". */
  readonly keepAliveTimeoutMs?: number;
}

export interface CountingServer {
  readonly origin: string;
  readonly port: number;
  /** TCP connections accepted so far. */
  connections(): number;
  /** Connections open now. */
  openSockets(): number;
  /** Requests served on each connection, in accept order. */
  requestsPerConnection(): number[];
  /** The most requests the server was handling at one time. */
  maxConcurrent(): number;
  /** Connections the client closed (the server saw its FIN) rather than the server. */
  closedByClient(): number;
  close(): Promise<void>;
}

export async function startCountingServer(options: CountingServerOptions = {}): Promise<CountingServer> {
  const numbers = new WeakMap<Socket, number>();
  const open = new Set<Socket>();
  const served: number[] = [];
  let active = 0;
  let maxActive = 0;
  let closedByClient = 0;
  const server: Server = createServer((req, res) => {
    const number = numbers.get(req.socket) ?? 0;
    served[number - 1] = (served[number - 1] ?? 0) + 1;
    maxActive = Math.max(maxActive, ++active);
    const answer = () => {
      active--;
      res.end(`${req.url} on connection ${number}`);
    };
    if (options.holdMs === undefined) answer();
    else setTimeout(answer, options.holdMs);
  });
  if (options.keepAliveTimeoutMs !== undefined) server.keepAliveTimeout = options.keepAliveTimeoutMs;
  server.on('connection', (socket: Socket) => {
    numbers.set(socket, served.push(0));
    open.add(socket);
    socket.on('end', () => closedByClient++);
    socket.on('close', () => open.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    connections: () => served.length,
    openSockets: () => open.size,
    requestsPerConnection: () => [...served],
    maxConcurrent: () => maxActive,
    closedByClient: () => closedByClient,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
