import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import test from 'ava';
import { createPoolRegistry } from '../../src/upstream/pool-registry.js';

/** A real server on 127.0.0.1:0 that counts TCP connections and can hold a response back. */
async function startCountingServer(options: { holdMs?: number } = {}) {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((req, res) => {
    const answer = () => res.end(`${req.url} on connection ${String(connections)}`);
    if (options.holdMs === undefined) answer();
    else setTimeout(answer, options.holdMs);
  });
  server.on('connection', (socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
    openSockets: () => sockets.size,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

test('one pool per origin: two requests in a row reuse one kept-alive connection', async (t) => {
  const server = await startCountingServer();
  const pools = createPoolRegistry();
  t.teardown(async () => {
    await pools.close();
    await server.close();
  });
  const pool = pools.get(server.origin);
  t.is(pools.get(server.origin), pool);
  for (const path of ['/one', '/two']) {
    const { statusCode, body } = await pool.request({ method: 'GET', path });
    t.is(statusCode, 200);
    t.is(await body.text(), `${path} on connection 1`);
    // undici frees the connection just after the body ends; the next request then finds it idle.
    await new Promise((resolve) => setImmediate(resolve));
  }
  t.is(server.connections(), 1);
});

test('retain() closes only the pools not named; a request in flight on a closing pool finishes', async (t) => {
  const slow = await startCountingServer({ holdMs: 150 });
  const kept = await startCountingServer();
  const pools = createPoolRegistry();
  t.teardown(async () => {
    await pools.close();
    await slow.close();
    await kept.close();
  });
  const slowPool = pools.get(slow.origin);
  const keptPool = pools.get(kept.origin);
  await (await keptPool.request({ method: 'GET', path: '/warm' })).body.text();

  const inFlight = slowPool.request({ method: 'GET', path: '/slow' });
  // Let the request reach the server before the pool is dropped.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const retained = pools.retain(new Set([kept.origin]));

  const { statusCode, body } = await inFlight;
  t.is(statusCode, 200);
  t.is(await body.text(), '/slow on connection 1');
  await retained;
  t.true(slowPool.closed);
  t.false(keptPool.closed);
  // The dropped origin gets a fresh pool if a later config names it again; the kept one is the same.
  t.not(pools.get(slow.origin), slowPool);
  t.is(pools.get(kept.origin), keptPool);
  // The kept pool still uses its warm connection.
  await (await keptPool.request({ method: 'GET', path: '/again' })).body.text();
  t.is(kept.connections(), 1);
});

test('close() closes every pool and their connections', async (t) => {
  const server = await startCountingServer();
  const pools = createPoolRegistry();
  t.teardown(() => server.close());
  const pool = pools.get(server.origin);
  await (await pool.request({ method: 'GET', path: '/' })).body.text();
  t.is(server.openSockets(), 1);
  await pools.close();
  t.true(pool.closed);
  // The server sees the kept-alive connection go.
  for (let waited = 0; server.openSockets() > 0 && waited < 2000; waited += 10) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  t.is(server.openSockets(), 0);
});
