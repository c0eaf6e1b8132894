import type { Server, Socket } from 'node:net';

// Downstream connections open on a listening socket, for the metrics: counted as they are
// accepted and closed, so reading the number costs nothing (net.Server's getConnections() is
// asynchronous). Per connection, never per request.

export function countConnections(server: Server): () => number {
  let open = 0;
  const closed = () => open--;
  server.on('connection', (socket: Socket) => {
    open++;
    socket.once('close', closed);
  });
  return () => open;
}
