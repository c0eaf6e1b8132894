import { createServer, type Socket } from 'node:net';
import { MeshgateError } from '../errors.js';
import { boundAddress } from './bound-address.js';
import type { Logger } from '../log.js';

// A listener whose connections are byte streams (TLS passthrough, TCP): a plain net.Server that
// hands each socket to the stream handler and keeps the set of open ones for the drain.
// allowHalfOpen: a client's FIN must not end the way back, so relays can pass half-closes on.

export interface StreamListenerOptions {
  readonly bind: string;
  /** 0 picks a free port; address() tells which. */
  readonly port: number;
  readonly logger: Logger;
  onConnection(socket: Socket): void;
}

export interface StreamListener {
  address(): { address: string; port: number };
  /** Downstream connections open now. */
  connections(): number;
  /** Stops accepting; open connections go on for up to drainMs, then are destroyed. */
  close(drainMs: number): Promise<void>;
}

export async function createStreamListener(options: StreamListenerOptions): Promise<StreamListener> {
  const { logger, onConnection } = options;
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    try {
      onConnection(socket);
    } catch (err) {
      logger.error('stream handler threw', { err });
      socket.destroy();
    }
  });
  server.on('error', (err) => logger.error('stream listener error', { err }));

  await new Promise<void>((resolve, reject) => {
    const fail = (err: Error) => reject(new MeshgateError('MG_ERR_LISTEN', `cannot listen on ${options.bind}:${options.port}`, { cause: err }));
    server.once('error', fail);
    server.listen(options.port, options.bind, () => {
      server.off('error', fail);
      resolve();
    });
  });
  const address = boundAddress(server);

  let closing: Promise<void> | undefined;
  return {
    address: () => address,
    connections: () => sockets.size,
    close(drainMs) {
      closing ??= new Promise<void>((resolve) => {
        const deadline = setTimeout(() => {
          for (const socket of sockets) socket.destroy();
        }, drainMs);
        server.close(() => {
          clearTimeout(deadline);
          resolve();
        });
      });
      return closing;
    },
  };
}
