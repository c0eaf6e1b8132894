import { setTimeout as delay } from 'node:timers/promises';
import test from 'ava';
import request from 'undici/lib/api/api-request.js';
import { createLogger } from '../../src/log.js';
import type { ClusterConfig } from '../../src/upstream/cluster.js';
import { createClusterManager, type ClusterManager } from '../../src/upstream/cluster-manager.js';
import type { ConnectionPoolSettings } from '../../src/upstream/pool-options.js';
import { createPoolRegistry } from '../../src/upstream/pool-registry.js';
import { type CountingServer, type CountingServerOptions, startCountingServer } from '../helpers/counting-server.js';
import { eventually } from '../helpers/eventually.js';
import type { LookupAll } from '../../src/upstream/endpoint-set.js';

const logger = createLogger({ level: 'error', write: () => {} });
const name = 'outbound|8080||api.internal';

function clusterConfig(server: CountingServer, connectionPool: ConnectionPoolSettings, extra: Partial<ClusterConfig> = {}): ClusterConfig {
  return Object.freeze<ClusterConfig>({
    name,
    host: 'api.internal',
    port: 8080,
    endpoints: { kind: 'static', endpoints: [{ address: '127.0.0.1', port: server.port, labels: {}, weight: 1 }] },
    trafficPolicy: { connectionPool },
    ...extra,
  });
}

async function send(clusters: ClusterManager, path: string) {
  const lease = clusters.get(name)!.cluster.choose({})!;
  const { body } = await request.call(lease.pool, { method: 'GET', path });
  const text = await body.text();
  lease.release();
  // Let undici mark the connection idle before the next request.
  await new Promise((resolve) => setImmediate(resolve));
  return { pool: lease.pool, text };
}

async function setUp(t: { teardown(fn: () => Promise<void>): void }) {
  const server = await startCountingServer();
  const clusters = createClusterManager({ pools: createPoolRegistry(), logger });
  t.teardown(async () => {
    clusters.close();
    await server.close();
  });
  return { server, clusters };
}

test('a reload with equal connectionPool settings keeps the pool and its socket, even when the cluster is rebuilt', async (t) => {
  const { server, clusters } = await setUp(t);
  const connectionPool = { tcp: { maxConnections: 4 }, http: { idleTimeout: 60_000 } };
  clusters.update(new Map([[name, clusterConfig(server, connectionPool)]]));
  const before = await send(clusters, '/before');

  // Same config: the cluster itself is kept.
  const kept = clusters.get(name)!.cluster;
  clusters.update(new Map([[name, clusterConfig(server, { ...connectionPool })]]));
  t.is(clusters.get(name)!.cluster, kept);
  // Another load balancer rebuilds the cluster; its pool settings are unchanged.
  clusters.update(new Map([[name, clusterConfig(server, { ...connectionPool }, { loadBalancer: { simple: 'RANDOM' } })]]));
  t.not(clusters.get(name)!.cluster, kept);

  const after = await send(clusters, '/after');
  t.is(after.pool, before.pool);
  t.deepEqual([before.text, after.text], ['/before on connection 1', '/after on connection 1']);
  t.is(server.connections(), 1);
});

test('a reload that changes connectionPool settings builds a new pool and closes the old one', async (t) => {
  const { server, clusters } = await setUp(t);
  clusters.update(new Map([[name, clusterConfig(server, { tcp: { maxConnections: 4 } })]]));
  const before = await send(clusters, '/before');

  clusters.update(new Map([[name, clusterConfig(server, { tcp: { maxConnections: 8 } })]]));
  const after = await send(clusters, '/after');
  t.not(after.pool, before.pool);
  t.is(after.text, '/after on connection 2');
  // The old pool is no longer in use: it closes, and so does its kept-alive socket.
  t.true(await eventually(() => (server.openSockets() === 1 && server.closedByClient() === 1 ? true : undefined)));
});

test('a cluster no route names any more has its pools closed, and their sockets with them', async (t) => {
  const { server, clusters } = await setUp(t);
  clusters.update(new Map([[name, clusterConfig(server, {})]]));
  await send(clusters, '/');
  clusters.update(new Map());
  t.is(clusters.get(name), undefined);
  t.true(await eventually(() => (server.openSockets() === 0 && server.closedByClient() === 1 ? true : undefined)));
});

/** A DNS cluster for `api.internal` resolved by `lookup`, in front of a counting server. */
async function setUpDns(t: { teardown(fn: () => Promise<void>): void }, lookup: LookupAll, serverOptions: CountingServerOptions = {}) {
  const server = await startCountingServer(serverOptions);
  const clusters = createClusterManager({ pools: createPoolRegistry(), logger, lookup });
  t.teardown(async () => {
    clusters.close();
    await server.close();
  });
  const config = (extra: Partial<ClusterConfig> = {}, refreshMs?: number) =>
    Object.freeze<ClusterConfig>({
      name,
      host: 'api.internal',
      port: 8080,
      endpoints: { kind: 'dns', targets: [{ hostname: 'api.internal', port: server.port, labels: {}, weight: 1 }], ...(refreshMs === undefined ? {} : { refreshMs }) },
      ...extra,
    });
  return { server, clusters, config };
}

/** A resolver that answers its first lookup only: after a reload, only a kept answer can serve. */
function firstLookupOnly() {
  const resolver = { lookups: 0 };
  const lookup: LookupAll = () => (++resolver.lookups === 1 ? Promise.resolve([{ address: '127.0.0.1' }]) : new Promise(() => {}));
  return { resolver, lookup };
}

test('a reload that rebuilds a DNS cluster starts from the last answer: it serves at once, over the same pool and socket', async (t) => {
  const { resolver, lookup } = firstLookupOnly();
  const { server, clusters, config } = await setUpDns(t, lookup);
  clusters.update(new Map([[name, config()]]));
  await clusters.get(name)!.cluster.ready();
  const before = await send(clusters, '/before');

  clusters.update(new Map([[name, config({ loadBalancer: { simple: 'RANDOM' } })]]));
  const rebuilt = clusters.get(name)!.cluster;
  t.deepEqual(
    rebuilt.endpoints().map((endpoint) => endpoint.address),
    ['127.0.0.1'],
  );
  t.is(await Promise.race([rebuilt.ready().then(() => 'ready'), delay(1000).then(() => 'still waiting for DNS')]), 'ready');
  const after = await send(clusters, '/after');
  t.is(after.pool, before.pool);
  t.deepEqual([before.text, after.text], ['/before on connection 1', '/after on connection 1']);
  t.is(server.connections(), 1);
  // The rebuilt cluster still resolves the name itself, in the background.
  t.is(resolver.lookups, 2);
});

test('the answer of a name no cluster resolves any more is forgotten', async (t) => {
  const { clusters, config } = await setUpDns(t, firstLookupOnly().lookup);
  clusters.update(new Map([[name, config()]]));
  await clusters.get(name)!.cluster.ready();
  clusters.update(new Map());
  clusters.update(new Map([[name, config()]]));
  t.deepEqual(clusters.get(name)!.cluster.endpoints(), []);
});

test('the pool of an address a new DNS answer no longer names is closed, with its socket, before any reload', async (t) => {
  let answer = '127.0.0.1';
  // Both sides keep the connection alive far longer than the test waits (the server here, the
  // connectionPool below): only closing the pool closes the socket.
  const { server, clusters, config } = await setUpDns(t, () => Promise.resolve([{ address: answer }]), { keepAliveTimeoutMs: 60_000 });
  clusters.update(new Map([[name, config({ trafficPolicy: { connectionPool: { http: { idleTimeout: 60_000 } } } }, 20)]]));
  await clusters.get(name)!.cluster.ready();
  t.is((await send(clusters, '/')).text, '/ on connection 1');
  t.is(server.openSockets(), 1);

  // The name moves to an address nothing listens on; no request goes there.
  answer = '127.0.0.2';
  t.true(await eventually(() => (server.openSockets() === 0 && server.closedByClient() === 1 ? true : undefined), 2000));
  t.deepEqual(
    clusters.get(name)!.cluster.endpoints().map((endpoint) => endpoint.address),
    ['127.0.0.2'],
  );
});
