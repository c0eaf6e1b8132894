import test from 'ava';
import { compileYaml, lineOf, snapshotOf } from '../helpers/compile-config.js';
import type { Snapshot } from '../../src/config/snapshot.js';
import type { ClusterConfig } from '../../src/upstream/cluster.js';

// Route destinations -> clusters `outbound|PORT|SUBSET|HOST`: the port chosen, the endpoints
// (ServiceEntry endpoints, selected WorkloadEntries, subset labels, DNS), and the
// DestinationRule traffic policy merged as istiod merges it.

function cluster(snapshot: Snapshot, name: string): ClusterConfig {
  const found = snapshot.clusters.get(name);
  if (found === undefined) throw new Error(`no cluster ${name}; have ${[...snapshot.clusters.keys()].join(', ')}`);
  return found;
}

/** A Gateway on port 80 and a VirtualService in `namespace` whose http routes forward to `destinations`, one route each. */
function routesTo(destinations: readonly string[], namespace = 'default'): string {
  return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: ${namespace}}
spec:
  servers:
  - {port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: routes, namespace: ${namespace}}
spec:
  hosts: ["*"]
  gateways: [edge]
  http:
${destinations.map((d) => `  - route: [{destination: ${d}}]`).join('\n')}
---
`;
}

test('STATIC ServiceEntry endpoints: ports from the `ports` map, then targetPort, then the service port', async (t) => {
  const snapshot = await snapshotOf(t, `${routesTo(['{host: api.internal, port: {number: 80}}', '{host: api.internal, port: {number: 9090}}'])}apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api}
spec:
  hosts: [api.internal]
  resolution: STATIC
  ports:
  - {number: 80, name: http, protocol: HTTP, targetPort: 8080}
  - {number: 9090, name: metrics, protocol: HTTP}
  endpoints:
  - {address: 10.0.0.1, labels: {version: v1}, weight: 3, locality: eu/west-1}
  - {address: 10.0.0.2, ports: {http: 7070, metrics: 7071}}
  - {address: "fd00::3", weight: 1}
`);
  const http = cluster(snapshot, 'outbound|80||api.internal');
  t.like(http, { host: 'api.internal', port: 80, subset: undefined });
  t.deepEqual(http.endpoints, {
    kind: 'static',
    endpoints: [
      { address: '10.0.0.1', port: 8080, labels: { version: 'v1' }, weight: 3, locality: 'eu/west-1' },
      { address: '10.0.0.2', port: 7070, labels: {}, weight: 1 },
      { address: 'fd00::3', port: 8080, labels: {}, weight: 1 },
    ],
  });
  const metrics = cluster(snapshot, 'outbound|9090||api.internal');
  t.deepEqual(metrics.endpoints.kind === 'static' ? metrics.endpoints.endpoints.map((e) => e.port) : [], [9090, 7071, 9090]);
});

test('an endpoint weight of 0 is Istio’s unset weight: 1', async (t) => {
  const snapshot = await snapshotOf(t, `${routesTo(['{host: api.internal}'])}apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api}
spec:
  hosts: [api.internal]
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 10.0.0.1, weight: 0}, {address: 10.0.0.2, weight: 5}]
`);
  const { endpoints } = cluster(snapshot, 'outbound|80||api.internal');
  t.deepEqual(endpoints.kind === 'static' ? endpoints.endpoints.map((e) => e.weight) : [], [1, 5]);
});

test('DNS ServiceEntries resolve their endpoints’ names, or the host itself when they list none', async (t) => {
  const snapshot = await snapshotOf(t, `${routesTo(['{host: named.internal}', '{host: bare.example.com}'])}apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: named}
spec:
  hosts: [named.internal]
  resolution: DNS
  ports: [{number: 443, name: http, protocol: HTTP}]
  endpoints:
  - {address: a.backend.example, labels: {zone: a}}
  - {address: b.backend.example, ports: {http: 8443}, weight: 2}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: bare}
spec:
  hosts: [bare.example.com]
  resolution: DNS
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: 8080}]
`);
  t.deepEqual(cluster(snapshot, 'outbound|443||named.internal').endpoints, {
    kind: 'dns',
    targets: [
      { hostname: 'a.backend.example', port: 443, labels: { zone: 'a' }, weight: 1 },
      { hostname: 'b.backend.example', port: 8443, labels: {}, weight: 2 },
    ],
  });
  t.deepEqual(cluster(snapshot, 'outbound|80||bare.example.com').endpoints, {
    kind: 'dns',
    targets: [{ hostname: 'bare.example.com', port: 8080, labels: {}, weight: 1 }],
  });
});

test('a host with no ServiceEntry is resolved by DNS on the destination port', async (t) => {
  const { snapshot, issues } = await compileYaml(t, routesTo(['{host: www.example.org, port: {number: 8080}}']));
  t.deepEqual(issues, []);
  t.deepEqual(cluster(snapshot!, 'outbound|8080||www.example.org').endpoints, {
    kind: 'dns',
    targets: [{ hostname: 'www.example.org', port: 8080, labels: {}, weight: 1 }],
  });
});

test('destination port: no ServiceEntry and no port is a warning and port 80', async (t) => {
  const yaml = routesTo(['{host: www.example.org}']);
  const { file, snapshot, issues } = await compileYaml(t, yaml);
  t.deepEqual(
    issues.map((i) => [i.code, i.severity, i.file, i.line, i.path]),
    [['MG_ERR_CONFIG_DESTINATION_PORT', 'warning', file, lineOf(yaml, 'www.example.org'), 'spec.http[0].route[0].destination.port']],
  );
  t.deepEqual(snapshot?.warnings, issues);
  t.like(cluster(snapshot!, 'outbound|80||www.example.org'), { port: 80, endpoints: { kind: 'dns', targets: [{ hostname: 'www.example.org', port: 80 }] } });
});

const twoPorts = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api}
spec:
  hosts: [api.internal]
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}, {number: 8080, name: admin, protocol: HTTP}]
  endpoints: [{address: 10.0.0.1}]
`;

test('destination port: a ServiceEntry with several ports and no destination port is an error', async (t) => {
  const yaml = `${routesTo(['{host: api.internal}'])}${twoPorts}`;
  const { file, snapshot, issues } = await compileYaml(t, yaml);
  t.is(snapshot, undefined);
  t.deepEqual(
    issues.map((i) => [i.code, i.severity, i.file, i.line, i.path, i.resource]),
    [['MG_ERR_CONFIG_DESTINATION_PORT', 'error', file, lineOf(yaml, '{host: api.internal}'), 'spec.http[0].route[0].destination.port', 'default/routes']],
  );
  t.regex(issues[0]?.message ?? '', /80, 8080/);
});

test('destination port: a port the ServiceEntry does not declare is an error at port.number', async (t) => {
  const yaml = `${routesTo(['{host: api.internal, port: {number: 9999}}', '{host: api.internal, port: {number: 8080}}'])}${twoPorts}`;
  const { file, snapshot, issues } = await compileYaml(t, yaml);
  t.is(snapshot, undefined);
  t.deepEqual(
    issues.map((i) => [i.code, i.severity, i.file, i.line, i.path]),
    [['MG_ERR_CONFIG_DESTINATION_PORT', 'error', file, lineOf(yaml, 'number: 9999'), 'spec.http[0].route[0].destination.port.number']],
  );
  t.regex(issues[0]?.message ?? '', /port 9999 .*80, 8080/);
});

test('a ServiceEntry with one port needs no destination port', async (t) => {
  const { snapshot, issues } = await compileYaml(t, `${routesTo(['{host: api.internal}'])}apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api}
spec:
  hosts: [api.internal]
  resolution: STATIC
  ports: [{number: 9080, name: http, protocol: HTTP}]
  endpoints: [{address: 10.0.0.1}]
`);
  t.deepEqual(issues, []);
  t.deepEqual([...snapshot!.clusters.keys()], ['outbound|9080||api.internal']);
});

const reviewsEntry = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews}
spec:
  hosts: [reviews.default.svc.cluster.local]
  resolution: STATIC
  ports: [{number: 9080, name: http, protocol: HTTP}, {number: 9443, name: grpc, protocol: GRPC}]
  endpoints:
  - {address: 10.0.1.1, labels: {app: reviews, version: v1}}
  - {address: 10.0.1.2, labels: {app: reviews, version: v2}}
  - {address: 10.0.1.3, labels: {app: reviews, version: v2, canary: "true"}}
---
`;

test('a subset keeps only the endpoints carrying all its labels', async (t) => {
  const snapshot = await snapshotOf(t, `${routesTo(['{host: reviews, subset: v1, port: {number: 9080}}', '{host: reviews, subset: v2, port: {number: 9080}}', '{host: reviews, subset: canary, port: {number: 9080}}', '{host: reviews, port: {number: 9080}}'])}${reviewsEntry}apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - {name: canary, labels: {version: v2, canary: "true"}}
`);
  const addresses = (name: string) => {
    const { endpoints } = cluster(snapshot, name);
    return endpoints.kind === 'static' ? endpoints.endpoints.map((e) => e.address) : [];
  };
  t.deepEqual(addresses('outbound|9080|v1|reviews.default.svc.cluster.local'), ['10.0.1.1']);
  t.deepEqual(addresses('outbound|9080|v2|reviews.default.svc.cluster.local'), ['10.0.1.2', '10.0.1.3']);
  t.deepEqual(addresses('outbound|9080|canary|reviews.default.svc.cluster.local'), ['10.0.1.3']);
  t.deepEqual(addresses('outbound|9080||reviews.default.svc.cluster.local'), ['10.0.1.1', '10.0.1.2', '10.0.1.3']);
  t.is(cluster(snapshot, 'outbound|9080|v2|reviews.default.svc.cluster.local').subset, 'v2');
});

test('a subset’s loadBalancer overrides the rule’s; other rule fields are inherited', async (t) => {
  const snapshot = await snapshotOf(t, `${routesTo(['{host: reviews, subset: v1, port: {number: 9080}}', '{host: reviews, subset: v2, port: {number: 9080}}'])}${reviewsEntry}apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    connectionPool: {tcp: {maxConnections: 10}}
  subsets:
  - {name: v1, labels: {version: v1}}
  - name: v2
    labels: {version: v2}
    trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}
`);
  const v1 = cluster(snapshot, 'outbound|9080|v1|reviews.default.svc.cluster.local');
  const v2 = cluster(snapshot, 'outbound|9080|v2|reviews.default.svc.cluster.local');
  t.deepEqual(v1.loadBalancer, { simple: 'ROUND_ROBIN' });
  t.deepEqual(v2.loadBalancer, { simple: 'LEAST_REQUEST' });
  t.like(v2.trafficPolicy, { connectionPool: { tcp: { maxConnections: 10 } } });
  t.true(Object.isFrozen(v2.trafficPolicy));
});

test('portLevelSettings replace the rule’s policy on their port, inheriting nothing', async (t) => {
  const snapshot = await snapshotOf(t, `${routesTo(['{host: reviews, port: {number: 9080}}', '{host: reviews, port: {number: 9443}}', '{host: reviews, subset: v2, port: {number: 9080}}', '{host: reviews, subset: v2, port: {number: 9443}}'])}${reviewsEntry}apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: RANDOM}
    connectionPool: {tcp: {maxConnections: 10}}
    portLevelSettings:
    - port: {number: 9443}
      loadBalancer: {simple: LEAST_REQUEST}
  subsets:
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      outlierDetection: {consecutive5xxErrors: 3}
      portLevelSettings:
      - port: {number: 9080}
        loadBalancer: {simple: ROUND_ROBIN}
`);
  const policy = (name: string) => cluster(snapshot, `${name}|reviews.default.svc.cluster.local`).trafficPolicy as Record<string, unknown> | undefined;
  // Rule only: 9080 has no port-level entry, 9443 has one and keeps nothing of the rule's own fields.
  t.deepEqual(policy('outbound|9080|'), { loadBalancer: { simple: 'RANDOM' }, connectionPool: { tcp: { maxConnections: 10, connectTimeout: 10_000 } } });
  t.deepEqual(policy('outbound|9443|'), { loadBalancer: { simple: 'LEAST_REQUEST' } });
  t.deepEqual(cluster(snapshot, 'outbound|9443||reviews.default.svc.cluster.local').loadBalancer, { simple: 'LEAST_REQUEST' });
  // Subset on 9080: its port-level entry replaces loadBalancer, connectionPool, outlierDetection and tls.
  t.deepEqual(policy('outbound|9080|v2'), { loadBalancer: { simple: 'ROUND_ROBIN' } });
  // Subset on 9443: the rule's 9443 entry, then the subset's own fields on top.
  t.deepEqual(policy('outbound|9443|v2'), {
    loadBalancer: { simple: 'LEAST_REQUEST' },
    outlierDetection: { consecutive5xxErrors: 3, interval: 10_000, baseEjectionTime: 30_000, maxEjectionPercent: 10, minHealthPercent: 0 },
  });
});

test('workloadSelector picks WorkloadEntries of the ServiceEntry’s namespace only', async (t) => {
  const workload = (name: string, namespace: string, address: string, labels: string, extra = '') => `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${name}, namespace: ${namespace}}
spec: {address: ${address}, labels: ${labels}${extra}}
---
`;
  const snapshot = await snapshotOf(t, `${routesTo(['{host: vm.internal}', '{host: vm.internal, subset: blue}'], 'shop')}${workload('vm-1', 'shop', '10.1.0.1', '{app: vm, color: blue}', ', ports: {web: 8081}, weight: 4')}${workload('vm-2', 'shop', '10.1.0.2', '{app: vm, color: green}')}${workload('other-app', 'shop', '10.1.0.3', '{app: db}')}${workload('vm-elsewhere', 'other', '10.2.0.1', '{app: vm, color: blue}')}apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: vm, namespace: shop}
spec:
  hosts: [vm.internal]
  resolution: STATIC
  ports: [{number: 80, name: web, protocol: HTTP, targetPort: 8080}]
  workloadSelector: {labels: {app: vm}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: vm, namespace: shop}
spec:
  host: vm.internal
  subsets: [{name: blue, labels: {color: blue}}]
`);
  t.deepEqual(cluster(snapshot, 'outbound|80||vm.internal').endpoints, {
    kind: 'static',
    endpoints: [
      { address: '10.1.0.1', port: 8081, labels: { app: 'vm', color: 'blue' }, weight: 4 },
      { address: '10.1.0.2', port: 8080, labels: { app: 'vm', color: 'green' }, weight: 1 },
    ],
  });
  const blue = cluster(snapshot, 'outbound|80|blue|vm.internal').endpoints;
  t.deepEqual(blue.kind === 'static' ? blue.endpoints.map((e) => e.address) : [], ['10.1.0.1']);
});

test('clusters exist only for destinations of routes bound to a gateway', async (t) => {
  const snapshot = await snapshotOf(t, `${routesTo(['{host: a.internal, port: {number: 80}}', '{host: a.internal, port: {number: 80}}'])}apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: unbound}
spec:
  hosts: [x.com]
  http:
  - route: [{destination: {host: b.internal, port: {number: 80}}}]
`);
  t.deepEqual([...snapshot.clusters.keys()], ['outbound|80||a.internal']);
});
