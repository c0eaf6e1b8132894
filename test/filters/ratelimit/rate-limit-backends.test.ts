import test from 'ava';
import { randomUUID } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { createLogger } from '../../../src/log.js';
import { createRateLimitBackends } from '../../../src/filters/ratelimit/rate-limit-backends.js';
import type { LimitSpec } from '../../../src/filters/ratelimit/limit-spec.js';
import type { RateLimitSettings } from '../../../src/config/kinds/mesh-config.js';
import { eventually } from '../../helpers/eventually.js';
import { sharedRedisUrl } from '../../helpers/redis-server.js';

// ioredis is imported when the first Global backend is configured, not at start: the requests
// that arrive while it loads take the fallback, exactly as while Redis is not connected, and
// counting moves to Redis (REDIS_URL, else 127.0.0.1:6379) once the client is ready.

const limit: LimitSpec = { id: 'policy/0/route/3m', requests: 3, windowSeconds: 60, burst: 0, burstWindowSeconds: 0 };

function backendsWithLog() {
  const lines: { msg: string }[] = [];
  const logger = createLogger({ write: (line) => lines.push(JSON.parse(line) as { msg: string }) });
  const backends = createRateLimitBackends({ workers: 1, logger, ask: () => undefined });
  return { backends, ready: () => eventually(() => lines.find((line) => line.msg === 'rate limit backend ready')) };
}

function settings(failClosed: boolean): RateLimitSettings {
  return { failClosed, timeout: 1000, backend: { type: 'Redis', redis: { url: sharedRedisUrl, keyPrefix: `mgtest-${randomUUID()}` } } };
}

test('fail open: a Global request before ioredis has loaded is counted locally and marked degraded; then Redis counts', async (t) => {
  const { backends, ready } = backendsWithLog();
  t.teardown(() => backends.close());
  backends.configure({ settings: settings(false), inUse: true });
  t.like(await backends.consume(limit, true, 'client'), { decision: 'allowed', remaining: 2, degraded: true });
  await ready();
  const counted = [];
  for (let i = 0; i < 4; i++) counted.push(await backends.consume(limit, true, 'client'));
  t.deepEqual(counted.map((c) => [c.decision, c.remaining, c.degraded]), [['allowed', 2, undefined], ['allowed', 1, undefined], ['allowed', 0, undefined], ['limited', 0, undefined]]);
});

test('fail closed: a Global request before ioredis has loaded is an error (RLSE), as while Redis is away', async (t) => {
  const { backends, ready } = backendsWithLog();
  t.teardown(() => backends.close());
  backends.configure({ settings: settings(true), inUse: true });
  t.is((await backends.consume(limit, true, 'client')).decision, 'error');
  await ready();
  t.is((await backends.consume(limit, true, 'client')).decision, 'allowed');
});

test('a backend replaced or closed while ioredis loads never connects', async (t) => {
  // A TCP server standing in for Redis counts the connections a client would open.
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const url = `redis://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const counted = { ...settings(false), backend: { type: 'Redis' as const, redis: { url, keyPrefix: 'mgtest' } } };

  const { backends } = backendsWithLog();
  backends.configure({ settings: counted, inUse: true });
  backends.configure({ settings: counted, inUse: false });
  backends.configure({ settings: counted, inUse: true });
  await backends.close();
  // Long enough for the import to finish and a client to connect, had one been opened.
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.is(connections, 0);

  // The same settings left in place do connect: the count above could have seen it.
  const control = backendsWithLog().backends;
  t.teardown(() => control.close());
  control.configure({ settings: counted, inUse: true });
  t.true((await eventually(() => (connections > 0 ? connections : undefined))) > 0);
});
