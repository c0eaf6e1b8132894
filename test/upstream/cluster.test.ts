import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import request from 'undici/lib/api/api-request.js';
import { createLogger } from '../../src/log.js';
import { type Cluster, createCluster, type ClusterConfig } from '../../src/upstream/cluster.js';
import type { Endpoint } from '../../src/upstream/endpoint.js';
import { endpointKey } from '../../src/upstream/endpoint.js';
import type { LookupAll } from '../../src/upstream/endpoint-set.js';
import { createPoolRegistry } from '../../src/upstream/pool-registry.js';
import { startCountingServer } from '../helpers/counting-server.js';

const logger = createLogger({ level: 'error', write: () => {} });
const endpoint = (last: number): Endpoint => ({ address: `10.0.0.${last}`, port: 8080, labels: {}, weight: 1 });

function staticCluster(endpoints: Endpoint[], extra: Partial<ClusterConfig> = {}): ClusterConfig {
  return Object.freeze<ClusterConfig>({
    name: 'outbound|8080||api.internal',
    host: 'api.internal',
    port: 8080,
    endpoints: { kind: 'static', endpoints },
    ...extra,
  });
}

/** A ROUND_ROBIN cluster over one DNS name refreshed every 10 ms, closed with its pools after the test. */
function roundRobinDnsCluster(t: ExecutionContext, host: string, lookup: LookupAll): Cluster {
  const pools = createPoolRegistry();
  const cluster = createCluster(
    {
      name: `outbound|80||${host}`,
      host,
      port: 80,
      endpoints: { kind: 'dns', targets: [{ hostname: host, port: 80, labels: {}, weight: 1 }], refreshMs: 10 },
      loadBalancer: { simple: 'ROUND_ROBIN' },
    },
    { pools, logger, lookup },
  );
  t.teardown(async () => {
    cluster.close();
    await pools.close();
  });
  return cluster;
}

test('choose counts a request on the endpoint, so LEAST_REQUEST sends the next one elsewhere', (t) => {
  const pools = createPoolRegistry();
  t.teardown(() => pools.close());
  const cluster = createCluster(staticCluster([endpoint(1), endpoint(2)]), { pools, logger });
  const first = cluster.choose({})!;
  // While the first lease is held, every pick goes to the other endpoint.
  for (let i = 0; i < 20; i++) {
    const next = cluster.choose({})!;
    t.not(next.endpoint, first.endpoint);
    next.release();
  }
  first.release();
  // Released twice: still counted down once, so the endpoint is not "negative busy" and both serve again.
  first.release();
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const lease = cluster.choose({})!;
    seen.add(endpointKey(lease.endpoint));
    lease.release();
  }
  t.is(seen.size, 2);
  const busy = cluster.choose({})!;
  for (let i = 0; i < 20; i++) {
    const next = cluster.choose({})!;
    t.not(next.endpoint, busy.endpoint);
    next.release();
  }
});

test('a lease carries the shared pool of its endpoint origin, and the pool reaches the endpoint', async (t) => {
  const server: Server = createServer((req, res) => res.end(`hello ${req.url}`));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const pools = createPoolRegistry();
  t.teardown(async () => {
    await pools.close();
    await new Promise((resolve) => server.close(resolve));
  });
  const local: Endpoint = { address: '127.0.0.1', port, labels: {}, weight: 1 };
  const cluster = createCluster(staticCluster([local], { loadBalancer: { simple: 'ROUND_ROBIN' } }), { pools, logger });
  await cluster.ready();
  const lease = cluster.choose({})!;
  t.is(lease.origin, `http://127.0.0.1:${port}`);
  t.is(lease.pool, pools.get(lease.origin, cluster.poolOptions));
  const { body } = await request.call(lease.pool, { method: 'GET', path: '/x' });
  t.is(await body.text(), 'hello /x');
  lease.release();
  // Another cluster naming the same endpoint shares the pool.
  const other = createCluster(staticCluster([local], { name: 'outbound|8080|v1|api.internal', subset: 'v1' }), { pools, logger });
  t.is(other.choose({})!.pool, lease.pool);
});

test('clusters with equal connectionPool settings share an endpoint pool and its connection; other settings do not', async (t) => {
  const server = await startCountingServer();
  const pools = createPoolRegistry();
  t.teardown(async () => {
    await pools.close();
    await server.close();
  });
  const local: Endpoint = { address: '127.0.0.1', port: server.port, labels: {}, weight: 1 };
  const clusterWith = (name: string, maxConnections: number) =>
    createCluster(staticCluster([local], { name, trafficPolicy: { connectionPool: { tcp: { maxConnections } } } }), { pools, logger });
  const v1 = clusterWith('outbound|8080|v1|api.internal', 10);
  const v2 = clusterWith('outbound|8080|v2|api.internal', 10);
  const capped = clusterWith('outbound|8080|capped|api.internal', 1);
  const send = async (cluster: Cluster, path: string) => {
    const lease = cluster.choose({})!;
    const { body } = await request.call(lease.pool, { method: 'GET', path });
    const text = await body.text();
    lease.release();
    // Let undici mark the connection idle before the next request.
    await new Promise((resolve) => setImmediate(resolve));
    return { pool: lease.pool, text };
  };
  const first = await send(v1, '/v1');
  const second = await send(v2, '/v2');
  const third = await send(capped, '/capped');
  t.is(second.pool, first.pool);
  t.not(third.pool, first.pool);
  t.deepEqual([first.text, second.text, third.text], ['/v1 on connection 1', '/v2 on connection 1', '/capped on connection 2']);
  t.is(server.connections(), 2);
});

test('no endpoint, or all excluded: choose answers undefined (the caller replies 503 UH)', (t) => {
  const pools = createPoolRegistry();
  t.teardown(() => pools.close());
  t.is(createCluster(staticCluster([]), { pools, logger }).choose({}), undefined);
  const cluster = createCluster(staticCluster([endpoint(1)]), { pools, logger });
  t.is(cluster.choose({ exclude: new Set(['10.0.0.1:8080']) }), undefined);
});

test('consistent hash: the same key keeps choosing the same endpoint', (t) => {
  const pools = createPoolRegistry();
  t.teardown(() => pools.close());
  const cluster = createCluster(
    staticCluster([endpoint(1), endpoint(2), endpoint(3)], { loadBalancer: { consistentHash: { httpHeaderName: 'x-user' } } }),
    { pools, logger },
  );
  for (const hashKey of ['alice', 'bob', 'carol']) {
    const first = cluster.choose({ hashKey })!;
    first.release();
    for (let i = 0; i < 10; i++) {
      const lease = cluster.choose({ hashKey })!;
      t.is(lease.endpoint, first.endpoint);
      lease.release();
    }
  }
});

test('a DNS cluster rebuilds its balancer when the answer changes', async (t) => {
  let answer = ['10.1.0.1'];
  const lookup: LookupAll = async () => answer.map((address) => ({ address }));
  const cluster = roundRobinDnsCluster(t, 'svc.example.com', lookup);
  await cluster.ready();
  t.is(cluster.choose({})!.origin, 'http://10.1.0.1:80');
  answer = ['10.1.0.2', '10.1.0.3'];
  for (let waited = 0; cluster.endpoints().length !== 2 && waited < 5000; waited += 10) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const origins = new Set(Array.from({ length: 4 }, () => cluster.choose({})!.origin));
  t.deepEqual([...origins].sort(), ['http://10.1.0.2:80', 'http://10.1.0.3:80']);
});

test('ejected endpoints are skipped by choose; below minHealthPercent ejection is ignored (panic) and all serve', (t) => {
  const pools = createPoolRegistry();
  t.teardown(() => pools.close());
  const outlierDetection = { consecutive5xxErrors: 1, maxEjectionPercent: 100, interval: 60_000 };
  const build = (minHealthPercent: number) => {
    const cluster = createCluster(staticCluster([endpoint(1), endpoint(2), endpoint(3)], { trafficPolicy: { outlierDetection: { ...outlierDetection, minHealthPercent } } }), { pools, logger });
    t.teardown(() => cluster.close());
    return cluster;
  };
  const picks = (cluster: Cluster) => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const lease = cluster.choose({})!;
      seen.add(endpointKey(lease.endpoint));
      lease.release();
    }
    return [...seen].sort();
  };
  const fail = (cluster: Cluster, last: number) => {
    const lease = cluster.choose({ exclude: new Set([1, 2, 3].filter((n) => n !== last).map((n) => endpointKey(endpoint(n)))) })!;
    cluster.report(lease, { status: 500 });
    lease.release();
  };

  const strict = build(0);
  fail(strict, 1);
  t.deepEqual(picks(strict), ['10.0.0.2:8080', '10.0.0.3:8080']);
  fail(strict, 2);
  t.deepEqual(picks(strict), ['10.0.0.3:8080']);
  const status = strict.status();
  t.deepEqual(
    status.host_statuses.map((host) => host.health_status.failed_outlier_check),
    [true, true, false],
    'what /clusters and meshgate_cluster_endpoints read',
  );
  t.is(status.outlier_ejections_total, 2, 'what meshgate_outlier_ejections_total reads');

  // 50%: with one of three out (67% healthy) ejection holds; with two out (33%) all three serve.
  const panicky = build(50);
  fail(panicky, 1);
  t.deepEqual(picks(panicky), ['10.0.0.2:8080', '10.0.0.3:8080']);
  fail(panicky, 2);
  t.deepEqual(picks(panicky), ['10.0.0.1:8080', '10.0.0.2:8080', '10.0.0.3:8080']);
});

test('a cluster never picked from reports its endpoints; its first pick balances over the endpoints it has then', async (t) => {
  let answer = ['10.2.0.1'];
  const lookup: LookupAll = async () => answer.map((address) => ({ address }));
  const cluster = roundRobinDnsCluster(t, 'lazy.example.com', lookup);
  await cluster.ready();
  t.deepEqual(
    cluster.status().host_statuses.map((host) => [host.address, host.rq_active]),
    [['10.2.0.1:80', 0]],
  );
  // The answer changes before anything was picked: the first pick sees only the new endpoints.
  answer = ['10.2.0.2', '10.2.0.3'];
  for (let waited = 0; cluster.endpoints().length !== 2 && waited < 5000; waited += 10) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const leases = Array.from({ length: 4 }, () => cluster.choose({})!);
  t.deepEqual([...new Set(leases.map((lease) => lease.origin))].sort(), ['http://10.2.0.2:80', 'http://10.2.0.3:80']);
  t.deepEqual(
    cluster.status().host_statuses.map((host) => [host.address, host.rq_active]),
    [
      ['10.2.0.2:80', 2],
      ['10.2.0.3:80', 2],
    ],
  );
  for (const lease of leases) lease.release();
  t.is(cluster.status().circuit_breakers.rq_active, 0);
});
