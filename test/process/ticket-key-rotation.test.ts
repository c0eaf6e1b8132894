import test from 'ava';
import { startTicketKeyRotation, ticketKeyRotationMs } from '../../src/process/ticket-key-rotation.js';

// The primary's ticket keys: new ones every interval (12 h; 30 ms here), each handed on and then
// the current ones a new worker gets; nothing after stop().

test('every interval brings new 48-byte keys, handed on and then current; stop() ends the rotation', async (t) => {
  t.is(ticketKeyRotationMs, 12 * 3600_000);
  const rotated: Buffer[] = [];
  const rotation = startTicketKeyRotation((keys) => rotated.push(keys), 30);
  const first = rotation.current();
  t.is(first.length, 48);
  while (rotated.length < 2) await new Promise((resolve) => setTimeout(resolve, 10));
  rotation.stop();
  const seen = rotated.length;
  t.is(rotated[0]!.length, 48);
  t.false(rotated[0]!.equals(first));
  t.false(rotated[1]!.equals(rotated[0]!));
  t.true(rotation.current().equals(rotated.at(-1)!));
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.is(rotated.length, seen);
});
