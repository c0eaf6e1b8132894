import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { freePort } from './free-port.js';

// The Redis tests share, and a private redis-server on a free port, which a test may stop and
// start again (same port, same password) to see what the gateway does while Redis is away.

/** The shared Redis: REDIS_URL, else the one on 127.0.0.1:6379. */
export const sharedRedisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface PrivateRedis {
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** SIGSTOP / SIGCONT: the connection stays open, and nothing answers meanwhile. */
  pause(): void;
  resume(): void;
}

export async function startPrivateRedis(password: string): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', password], { stdio: ['ignore', 'pipe', 'inherit'] });
    child = server;
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: server.stdout! }).on('line', (line) => {
        if (line.includes('Ready to accept connections')) resolve();
      });
      server.once('exit', (code) => reject(new Error(`redis-server exited with ${code}`)));
    });
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    start,
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    async stop() {
      const server = child;
      if (server === undefined || server.exitCode !== null) return;
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGKILL');
      await exited;
    },
  };
}
