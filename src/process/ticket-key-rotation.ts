import { newTicketKeys } from '../listeners/ticket-keys.js';

// The primary's session-ticket keys: made once, so a ticket from any worker resumes on every
// other one (and on a replacement), and replaced every 12 hours for forward secrecy: a key that
// leaks later opens no session recorded more than one rotation earlier. Node holds one key, so a
// ticket older than the last rotation gets one full handshake.

export const ticketKeyRotationMs = 12 * 3600_000;

export interface TicketKeyRotation {
  current(): Buffer;
  stop(): void;
}

/** `intervalMs`: shorter only in a unit test. */
export function startTicketKeyRotation(onRotate: (keys: Buffer) => void, intervalMs = ticketKeyRotationMs): TicketKeyRotation {
  let keys = newTicketKeys();
  const timer = setInterval(() => {
    keys = newTicketKeys();
    onRotate(keys);
  }, intervalMs);
  // The rotation never keeps a stopping primary alive.
  timer.unref();
  return { current: () => keys, stop: () => clearInterval(timer) };
}
