import test, { type ExecutionContext } from 'ava';
import type { Dispatcher, Pool } from 'undici';
import request from 'undici/lib/api/api-request.js';
import { eventually } from '../helpers/eventually.js';
import { startCountingServer } from '../helpers/counting-server.js';
import { poolOptionsFor } from '../../src/upstream/pool-options.js';
import { createPoolRegistry } from '../../src/upstream/pool-registry.js';

const defaults = poolOptionsFor(undefined);

/** A counting server and a pool registry, both closed when the test ends. */
async function fixture(t: ExecutionContext, serverOptions?: Parameters<typeof startCountingServer>[0]) {
  const server = await startCountingServer(serverOptions);
  const pools = createPoolRegistry();
  t.teardown(async () => {
    await pools.close();
    await server.close();
  });
  return { server, pools };
}

/** HTTP/1.1 options give undici Pools. */
function isClosed(pool: Dispatcher): boolean {
  return (pool as Pool).closed;
}

async function get(pool: Dispatcher, path: string): Promise<string> {
  const { statusCode, body } = await request.call(pool, { method: 'GET', path });
  const text = await body.text();
  if (statusCode !== 200) throw new Error(`${path}: status ${statusCode}`);
  // undici frees the connection just after the body ends; the next request then finds it idle.
  await new Promise((resolve) => setImmediate(resolve));
  return text;
}

test('one pool per origin and options: equal options share it, and it reuses one kept-alive connection', async (t) => {
  const { server, pools } = await fixture(t);
  const pool = pools.get(server.origin, defaults);
  // Options built separately from equal settings find the same pool.
  t.is(pools.get(server.origin, poolOptionsFor({ tcp: { maxConnections: 4294967295, connectTimeout: 10_000 } })), pool);
  t.is(await get(pool, '/one'), '/one on connection 1');
  t.is(await get(pools.get(server.origin, defaults), '/two'), '/two on connection 1');
  t.is(server.connections(), 1);
});

test('other options for the same origin get their own pool and connections', async (t) => {
  const { server, pools } = await fixture(t);
  const limited = pools.get(server.origin, poolOptionsFor({ tcp: { maxConnections: 1 } }));
  const unlimited = pools.get(server.origin, defaults);
  t.not(limited, unlimited);
  t.is(await get(limited, '/a'), '/a on connection 1');
  t.is(await get(unlimited, '/b'), '/b on connection 2');
  t.is(await get(limited, '/c'), '/c on connection 1');
});

test('maxConnections 1 serialises 5 concurrent requests over one connection; unlimited opens one each', async (t) => {
  const { server, pools } = await fixture(t, { holdMs: 40 });
  const one = pools.get(server.origin, poolOptionsFor({ tcp: { maxConnections: 1 } }));
  const answers = await Promise.all(['/1', '/2', '/3', '/4', '/5'].map((path) => get(one, path)));
  t.deepEqual(answers, ['/1', '/2', '/3', '/4', '/5'].map((path) => `${path} on connection 1`));
  t.deepEqual(server.requestsPerConnection(), [5]);
  t.is(server.maxConcurrent(), 1);

  const many = pools.get(server.origin, defaults);
  await Promise.all(['/6', '/7', '/8', '/9', '/10'].map((path) => get(many, path)));
  t.is(server.connections(), 6);
  t.is(server.maxConcurrent(), 5);
});

test('maxRequestsPerConnection 2 opens a new connection every 2 requests', async (t) => {
  const { server, pools } = await fixture(t);
  // One connection at a time, so which connection serves which request is certain.
  const pool = pools.get(server.origin, poolOptionsFor({ tcp: { maxConnections: 1 }, http: { maxRequestsPerConnection: 2 } }));
  const answers: string[] = [];
  for (const path of ['/1', '/2', '/3', '/4', '/5', '/6']) answers.push(await get(pool, path));
  t.deepEqual(answers, ['/1 on connection 1', '/2 on connection 1', '/3 on connection 2', '/4 on connection 2', '/5 on connection 3', '/6 on connection 3']);
  t.deepEqual(server.requestsPerConnection(), [2, 2, 2]);
});

test('maxRequestsPerConnection 1 disables keep-alive: a connection per request', async (t) => {
  const { server, pools } = await fixture(t);
  const pool = pools.get(server.origin, poolOptionsFor({ http: { maxRequestsPerConnection: 1 } }));
  for (const path of ['/1', '/2', '/3', '/4']) await get(pool, path);
  t.deepEqual(server.requestsPerConnection(), [1, 1, 1, 1]);
  // Each request said "connection: close", so none is left open.
  t.true(await eventually(() => (server.openSockets() === 0 ? true : undefined)));
});

test('idleTimeout closes an idle connection sooner than the server hint allows', async (t) => {
  // Node sends "Keep-Alive: timeout=60", so without idleTimeout undici would keep the socket ~58s.
  const { server, pools } = await fixture(t, { keepAliveTimeoutMs: 60_000 });
  await get(pools.get(server.origin, poolOptionsFor({ http: { idleTimeout: 300 } })), '/short');
  await get(pools.get(server.origin, defaults), '/default');
  t.is(server.openSockets(), 2);
  await eventually(() => (server.openSockets() === 1 ? true : undefined));
  t.is(server.closedByClient(), 1);
  // The default pool's socket outlives the short one: it is the one still open.
  t.is(await get(pools.get(server.origin, defaults), '/again'), '/again on connection 2');
});

test('a server Keep-Alive hint shorter than idleTimeout is honoured: meshgate closes first', async (t) => {
  // Hint "timeout=3": undici keeps the socket 3s less its 2s margin, well before the server closes it.
  const { server, pools } = await fixture(t, { keepAliveTimeoutMs: 3_000 });
  await get(pools.get(server.origin, poolOptionsFor({ http: { idleTimeout: 3_600_000 } })), '/x');
  await eventually(() => (server.openSockets() === 0 ? true : undefined));
  t.is(server.closedByClient(), 1);
});

test('retain() closes only the pools not in use; a request in flight on a closing pool finishes', async (t) => {
  const slow = await startCountingServer({ holdMs: 150 });
  const kept = await startCountingServer();
  const pools = createPoolRegistry();
  t.teardown(async () => {
    await pools.close();
    await slow.close();
    await kept.close();
  });
  const limited = poolOptionsFor({ tcp: { maxConnections: 2 } });
  const slowPool = pools.get(slow.origin, defaults);
  const keptPool = pools.get(kept.origin, defaults);
  // The kept origin with other options is not in use either.
  const otherOptionsPool = pools.get(kept.origin, limited);
  await get(keptPool, '/warm');

  const inFlight = request.call(slowPool, { method: 'GET', path: '/slow' });
  // Let the request reach the server before the pool is dropped.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const retained = pools.retain([{ origin: kept.origin, options: poolOptionsFor({}) }]);

  const { statusCode, body } = await inFlight;
  t.is(statusCode, 200);
  t.is(await body.text(), '/slow on connection 1');
  await retained;
  t.true(isClosed(slowPool));
  t.true(isClosed(otherOptionsPool));
  t.false(isClosed(keptPool));
  // A dropped pool is built afresh if a later config names it again; the kept one is the same.
  t.not(pools.get(slow.origin, defaults), slowPool);
  t.not(pools.get(kept.origin, limited), otherOptionsPool);
  t.is(pools.get(kept.origin, defaults), keptPool);
  // The kept pool still uses its warm connection.
  t.is(await get(keptPool, '/again'), '/again on connection 1');
});

test('close() closes every pool and their connections', async (t) => {
  const server = await startCountingServer();
  const pools = createPoolRegistry();
  t.teardown(() => server.close());
  const pool = pools.get(server.origin, defaults);
  const limited = pools.get(server.origin, poolOptionsFor({ tcp: { maxConnections: 1 } }));
  await get(pool, '/');
  await get(limited, '/');
  t.is(server.openSockets(), 2);
  await pools.close();
  t.true(isClosed(pool));
  t.true(isClosed(limited));
  // The server sees the kept-alive connections go.
  await eventually(() => (server.openSockets() === 0 ? true : undefined), 2000);
  t.is(server.closedByClient(), 2);
});
