import { randomBytes } from 'node:crypto';
import type { Server as TlsServer } from 'node:tls';

// The session-ticket keys of a worker's tls.Servers. Node gives every tls.Server random keys of
// its own, so a ticket would only resume on the server (and so the worker) that issued it; the
// primary makes one key for all workers instead and rotates it (ticket-key-rotation.ts), and
// this store hands it to every tls.Server a worker builds, now and after each rotation.

/** Node's ticketKeys format: 16 bytes of key name, 16 of HMAC secret, 16 of AES key. */
const ticketKeyBytes = 48;

export function newTicketKeys(): Buffer {
  return randomBytes(ticketKeyBytes);
}

export interface TicketKeys {
  /** A new tls.Server takes the current keys and every later rotation. */
  use(server: TlsServer): void;
  /** The server is no longer served: rotations leave it alone (and let it be collected). */
  release(server: TlsServer): void;
  /** Tickets from now on are made with `keys`; ones made with the old keys get a full handshake. */
  rotate(keys: Buffer): void;
}

/** `keys`: the primary's; without them (a listener in a unit test) random ones, made once here. */
export function createTicketKeys(keys: Buffer = newTicketKeys()): TicketKeys {
  let current = keys;
  const servers = new Set<TlsServer>();
  return {
    use(server) {
      server.setTicketKeys(current);
      servers.add(server);
    },
    release(server) {
      servers.delete(server);
    },
    rotate(next) {
      current = next;
      for (const server of servers) server.setTicketKeys(next);
    },
  };
}
