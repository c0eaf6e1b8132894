import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';

// A port asked of the kernel with listen(0) and closed again lies in its ephemeral range, where
// the next outgoing connection of any test may take it before the gateway listens there (CI saw
// "cannot listen on 0.0.0.0:39231"). So ports come from just below that range, which the kernel
// never hands out, and a lock file per port keeps the test processes that run side by side from
// taking the same one. A claim lasts until its process exits.

const CLAIMS = path.join(os.tmpdir(), 'meshgate-test-ports');
const RANGE_SIZE = 10_000;
const claimed: string[] = [];

/** The first port of the kernel's ephemeral range (Linux default 32768). */
function ephemeralStart(): number {
  try {
    const start = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(start) && start > RANGE_SIZE + 1024 ? start : 32768;
  } catch {
    return 32768;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock file for PORT; a lock left by a process that is gone is taken over. */
function claim(port: number): boolean {
  const file = path.join(CLAIMS, String(port));
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      claimed.push(file);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(readFileSync(file, 'utf8'));
      if (!Number.isInteger(owner) || owner === 0 || processAlive(owner)) return false;
      unlinkSync(file);
    }
  }
  return false;
}

async function bindable(port: number): Promise<boolean> {
  const server = createServer();
  const listening = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => resolve(true));
  });
  if (listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  return listening;
}

process.on('exit', () => {
  for (const file of claimed) {
    try {
      unlinkSync(file);
    } catch {
      // Already gone: a later run took it over.
    }
  }
});

/** A port no other test process holds and nothing listens on, for configs that must name their port. */
export async function freePort(): Promise<number> {
  mkdirSync(CLAIMS, { recursive: true });
  const high = ephemeralStart();
  const low = high - RANGE_SIZE;
  const start = low + Math.floor(Math.random() * RANGE_SIZE);
  for (let offset = 0; offset < RANGE_SIZE; offset += 1) {
    const port = low + ((start - low + offset) % RANGE_SIZE);
    if (claim(port) && (await bindable(port))) return port;
  }
  throw new Error(`no free port in ${low}-${high - 1}: every one is claimed in ${CLAIMS} or in use`);
}
