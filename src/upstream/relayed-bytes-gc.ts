// Frees the buffers that relayed bytes leave behind, while they are still young.
//
// Node reads each socket into a new buffer outside V8's heap (64 KiB at a time when a body is
// large), and only a garbage collection frees it, however soon it is dead. V8 schedules its
// collections by what its own heap allocates, which relaying bytes barely touches, and otherwise
// waits until the memory outside its heap has grown by 64 MiB; glibc then keeps the space those
// buffers leave. A young-generation collection after every few MiB relayed frees them while they
// are young and the space is reused at once. Measured with 1 MiB response bodies (README,
// Processes), it kept a worker at 100-106 MiB RSS instead of 132-148, and each response cost less
// CPU, not more: the collections it adds are cheap, and the incremental full ones V8 started for
// the memory outside its heap are no longer needed.

type Collect = (options: { type: 'minor' }) => void;

/** Workers start with --expose-gc (worker-exec-argv.ts); where `gc` is not exposed (a data plane in a test process), nothing is collected here. */
const collect = (globalThis as { gc?: Collect }).gc;

/** 4 MiB kept RSS and CPU per response lowest of 4, 8 and 16 (README, Processes). */
export const relayedBytesPerCollection = 4 * 1024 * 1024;

let relayedSinceCollection = 0;

/** Counts bytes a relay handed on; every `relayedBytesPerCollection` of them, one young-generation collection. */
export function noteRelayedBytes(bytes: number): void {
  if (collect === undefined) return;
  relayedSinceCollection += bytes;
  if (relayedSinceCollection < relayedBytesPerCollection) return;
  relayedSinceCollection = 0;
  collect({ type: 'minor' });
}
