import test from 'ava';
import { compileYaml, lineOf, snapshotOf } from '../helpers/compile-config.js';
import { formatIssue } from '../../src/config/issue.js';
import type { HttpRoute, ListenerConfig, RouteAction, Snapshot } from '../../src/config/snapshot.js';
import { createRequestView, type RequestView } from '../../src/routing/request-view.js';

// The compile stage, driven through the real pipeline (load -> validate -> compile): Gateway
// servers become listeners, VirtualServices become virtual hosts and ordered routes, as istiod
// builds them for a gateway proxy.

function listener(snapshot: Snapshot, name: string): ListenerConfig {
  const found = snapshot.listeners.find((l) => l.name === name);
  if (found === undefined) throw new Error(`no listener ${name}; have ${snapshot.listeners.map((l) => l.name).join(', ')}`);
  return found;
}

function view(host: string, url: string, port = 80, headers: Record<string, string> = {}): RequestView {
  return createRequestView({ method: 'GET', url, headers: { host, ...headers }, scheme: 'http', port });
}

function forward(action: RouteAction | undefined): Extract<RouteAction, { kind: 'forward' }> {
  if (action?.kind !== 'forward') throw new Error(`expected a forward action, got ${action?.kind}`);
  return action;
}

/** The cluster a request is sent to on a listener, or undefined for Envoy's 404 NR. */
function clusterFor(l: ListenerConfig, req: RequestView): string | undefined {
  const matched = l.routes.route(req);
  return matched === undefined ? undefined : forward(matched.action).pickDestination().cluster;
}

function routeNames(routes: readonly HttpRoute[] | undefined): string[] {
  return (routes ?? []).map((r) => `${r.virtualService}:${r.name}`);
}

/** 1-based line of the first line of `text` containing `needle`. */
const gw = (name: string, namespace: string, servers: string) => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  servers:
${servers}
---
`;

test('two Gateways on one port share one listener; each VirtualService serves only its own gateway’s hosts', async (t) => {
  const snapshot = await snapshotOf(t, `${gw('a', 'default', '  - {port: {number: 8080, name: http, protocol: HTTP}, hosts: [a.com]}')}${gw('b', 'default', '  - {port: {number: 8080, name: http, protocol: HTTP}, hosts: [b.com]}\n  - {port: {number: 8080, name: http, protocol: HTTP}, hosts: [c.com], bind: 127.0.0.1}')}apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs-a}
spec:
  hosts: [a.com, b.com]
  gateways: [a]
  http:
  - name: to-a
    route: [{destination: {host: a.internal, port: {number: 80}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs-b}
spec:
  hosts: [b.com, c.com]
  gateways: [b]
  http:
  - name: to-b
    route: [{destination: {host: b.internal, port: {number: 80}}}]
`);
  t.deepEqual(snapshot.listeners.map((l) => [l.name, l.bind, l.port, l.protocol]), [
    ['0.0.0.0_8080', '0.0.0.0', 8080, 'HTTP'],
    ['127.0.0.1_8080', '127.0.0.1', 8080, 'HTTP'],
  ]);
  const shared = listener(snapshot, '0.0.0.0_8080');
  t.is(shared.routes.findVirtualHost('a.com')?.name, 'a.com:8080');
  t.deepEqual(routeNames(shared.routes.findVirtualHost('a.com')?.routes), ['default/vs-a:to-a']);
  // vs-a lists b.com, but its gateway `a` does not serve b.com: only vs-b's routes are there.
  t.deepEqual(routeNames(shared.routes.findVirtualHost('B.com:8080')?.routes), ['default/vs-b:to-b']);
  t.is(shared.routes.findVirtualHost('c.com'), undefined);
  t.is(clusterFor(listener(snapshot, '127.0.0.1_8080'), view('c.com', '/', 8080)), 'outbound|80||b.internal');
  t.true(Object.isFrozen(snapshot.listeners));
  t.true(Object.isFrozen(shared));
});

test('a VirtualService bound to two gateways serves on both, each with its own match blocks', async (t) => {
  const yaml = `${gw('edge', 'default', '  - {port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}')}${gw('public', 'istio-system', '  - {port: {number: 8080, name: http, protocol: HTTP}, hosts: ["*"]}')}apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop}
spec:
  hosts: [shop.example.com]
  gateways: [edge, istio-system/public]
  http:
  - name: admin
    match:
    - {name: public-only, uri: {prefix: /admin}, gateways: [istio-system/public]}
    route: [{destination: {host: admin.internal, port: {number: 80}}}]
  - name: web
    route: [{destination: {host: web.internal, port: {number: 80}}}]
`;
  const snapshot = await snapshotOf(t, yaml);
  const edge = listener(snapshot, '0.0.0.0_80');
  const publicListener = listener(snapshot, '0.0.0.0_8080');
  t.is(edge.routes.findVirtualHost('shop.example.com')?.name, 'shop.example.com:80');
  t.is(publicListener.routes.findVirtualHost('shop.example.com')?.name, 'shop.example.com:8080');
  // The match block names only istio-system/public: through `edge` /admin falls to the next route.
  t.is(clusterFor(edge, view('shop.example.com', '/admin/users')), 'outbound|80||web.internal');
  t.is(clusterFor(publicListener, view('shop.example.com', '/admin/users', 8080)), 'outbound|80||admin.internal');
  t.is(publicListener.routes.route(view('shop.example.com', '/admin', 8080))?.name, 'admin.public-only');
  t.is(clusterFor(publicListener, view('shop.example.com', '/', 8080)), 'outbound|80||web.internal');
  t.is(edge.routes.findVirtualHost('other.example.com'), undefined);
});

test('a match block whose gateways name only another gateway never matches; its sibling blocks still do', async (t) => {
  const snapshot = await snapshotOf(t, `${gw('edge', 'default', '  - {port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}')}${gw('other', 'default', '  - {port: {number: 81, name: http, protocol: HTTP}, hosts: ["*"]}')}apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: app}
spec:
  hosts: ["*"]
  gateways: [edge]
  http:
  - match:
    - {uri: {prefix: /a}, gateways: [other]}
    - {uri: {prefix: /b}}
    route: [{destination: {host: ab.internal, port: {number: 80}}}]
  - route: [{destination: {host: rest.internal, port: {number: 80}}}]
`);
  const edge = listener(snapshot, '0.0.0.0_80');
  t.is(clusterFor(edge, view('x.com', '/a')), 'outbound|80||rest.internal');
  t.is(clusterFor(edge, view('x.com', '/b')), 'outbound|80||ab.internal');
  // The VirtualService is not bound to `other`, so nothing is served there at all.
  t.is(listener(snapshot, '0.0.0.0_81').routes.findVirtualHost('x.com'), undefined);
});

test('virtual host domains are the intersection of VirtualService and server hosts', async (t) => {
  const snapshot = await snapshotOf(t, `${gw('edge', 'default', '  - {port: {number: 80, name: http, protocol: HTTP}, hosts: [foo.com, "*.bar.com"]}\n  - {port: {number: 81, name: http, protocol: HTTP}, hosts: ["*"]}')}apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: any}
spec:
  hosts: ["*"]
  gateways: [edge]
  http:
  - route: [{destination: {host: any.internal, port: {number: 80}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api}
spec:
  hosts: [api.bar.com, "*.baz.com"]
  gateways: [edge]
  http:
  - route: [{destination: {host: api.internal, port: {number: 80}}}]
`);
  const port80 = listener(snapshot, '0.0.0.0_80');
  // VS `*` on server foo.com serves foo.com (the narrower host), not every name.
  t.is(port80.routes.findVirtualHost('foo.com')?.name, 'foo.com:80');
  t.is(port80.routes.findVirtualHost('other.com'), undefined);
  t.is(port80.routes.findVirtualHost('x.bar.com')?.name, '*.bar.com:80');
  // The exact api.bar.com beats the wildcard, and carries only the `api` routes.
  t.deepEqual(routeNames(port80.routes.findVirtualHost('api.bar.com')?.routes), ['default/api:']);
  t.is(port80.routes.findVirtualHost('a.baz.com'), undefined);
  const port81 = listener(snapshot, '0.0.0.0_81');
  t.is(port81.routes.findVirtualHost('a.baz.com')?.name, '*.baz.com:81');
  t.is(port81.routes.findVirtualHost('anything.org')?.name, '*:81');
});

test('server hosts `./host` and `ns/host` admit only VirtualServices of that namespace', async (t) => {
  const vs = (name: string, namespace: string, host: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  hosts: [${host}]
  gateways: [edge/gw]
  http:
  - route: [{destination: {host: ${name}.internal, port: {number: 80}}}]
---
`;
  const snapshot = await snapshotOf(t, `${gw('gw', 'edge', '  - {port: {number: 80, name: http, protocol: HTTP}, hosts: [./a.com, team/b.com, "*/c.com"]}')}${vs('own', 'edge', 'a.com')}${vs('foreign', 'other', 'a.com')}${vs('team-b', 'team', 'b.com')}${vs('edge-b', 'edge', 'b.com')}${vs('anyone-c', 'other', 'c.com')}`);
  const l = listener(snapshot, '0.0.0.0_80');
  t.deepEqual(routeNames(l.routes.findVirtualHost('a.com')?.routes), ['edge/own:']);
  t.deepEqual(routeNames(l.routes.findVirtualHost('b.com')?.routes), ['team/team-b:']);
  t.deepEqual(routeNames(l.routes.findVirtualHost('c.com')?.routes), ['other/anyone-c:']);
  t.false(snapshot.clusters.has('outbound|80||foreign.internal'));
});

test('two VirtualServices for one host are merged into one virtual host, in file order', async (t) => {
  const snapshot = await snapshotOf(t, `${gw('edge', 'default', '  - {port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}')}apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: z-first}
spec:
  hosts: [shop.com]
  gateways: [edge]
  http:
  - name: api
    match: [{uri: {prefix: /api}}]
    route: [{destination: {host: api.internal, port: {number: 80}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: a-second}
spec:
  hosts: [shop.com]
  gateways: [edge]
  http:
  - name: all
    route: [{destination: {host: web.internal, port: {number: 80}}}]
  - name: never-reached
    match: [{uri: {prefix: /api}}]
    route: [{destination: {host: shadowed.internal, port: {number: 80}}}]
`);
  const l = listener(snapshot, '0.0.0.0_80');
  t.deepEqual(routeNames(l.routes.findVirtualHost('shop.com')?.routes), ['default/z-first:api', 'default/a-second:all', 'default/a-second:never-reached']);
  t.is(clusterFor(l, view('shop.com', '/api/x')), 'outbound|80||api.internal');
  t.is(clusterFor(l, view('shop.com', '/')), 'outbound|80||web.internal');
});

test('a VirtualService without gateways is for the mesh only and binds to no gateway', async (t) => {
  const { snapshot, issues } = await compileYaml(t, `${gw('edge', 'default', '  - {port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}')}apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: mesh-only}
spec:
  hosts: [inside.com]
  http:
  - route: [{destination: {host: inside.internal, port: {number: 80}}}]
`);
  t.deepEqual(issues, []);
  const l = listener(snapshot!, '0.0.0.0_80');
  t.is(l.routes.findVirtualHost('inside.com'), undefined);
  t.is(l.routes.route(view('inside.com', '/')), undefined);
  t.is(snapshot!.clusters.size, 0);
});

test('weights split traffic in proportion; a weight-0 destination gets none', async (t) => {
  const snapshot = await snapshotOf(t, `${gw('edge', 'default', '  - {port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}')}apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: canary}
spec:
  hosts: ["*"]
  gateways: [edge]
  http:
  - route:
    - {destination: {host: stable.internal, port: {number: 80}}, weight: 75}
    - {destination: {host: canary.internal, port: {number: 80}}, weight: 25}
    - {destination: {host: dark.internal, port: {number: 80}}, weight: 0}
`);
  const action = forward(listener(snapshot, '0.0.0.0_80').routes.route(view('x', '/'))?.action);
  const counts = new Map<string, number>();
  const draws = 20_000;
  for (let i = 0; i < draws; i++) {
    const { cluster } = action.pickDestination();
    counts.set(cluster, (counts.get(cluster) ?? 0) + 1);
  }
  const share = (cluster: string) => (counts.get(cluster) ?? 0) / draws;
  t.true(Math.abs(share('outbound|80||stable.internal') - 0.75) < 0.03, `stable share ${share('outbound|80||stable.internal')}`);
  t.true(Math.abs(share('outbound|80||canary.internal') - 0.25) < 0.03, `canary share ${share('outbound|80||canary.internal')}`);
  t.is(counts.get('outbound|80||dark.internal'), undefined);
  // The weight-0 destination is still a cluster (Istio builds it; it just gets no traffic).
  t.true(snapshot.clusters.has('outbound|80||dark.internal'));
});

test('short names resolve in the VirtualService’s namespace: hosts, destinations and gateways', async (t) => {
  const snapshot = await snapshotOf(t, `${gw('edge', 'shop', '  - {port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}')}apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  gateways: [edge]
  http:
  - route: [{destination: {host: reviews, port: {number: 9080}}}]
`);
  const l = listener(snapshot, '0.0.0.0_80');
  t.is(l.routes.findVirtualHost('reviews.shop.svc.cluster.local')?.name, 'reviews.shop.svc.cluster.local:80');
  t.is(l.routes.findVirtualHost('reviews'), undefined);
  t.is(clusterFor(l, view('reviews.shop.svc.cluster.local', '/')), 'outbound|9080||reviews.shop.svc.cluster.local');
  t.deepEqual(snapshot.clusters.get('outbound|9080||reviews.shop.svc.cluster.local')?.endpoints, {
    kind: 'dns',
    targets: [{ hostname: 'reviews.shop.svc.cluster.local', port: 9080, labels: {}, weight: 1 }],
  });
});

test('rewrite replaces the prefix each match block matched, the whole path for exact, and `/` without uri', async (t) => {
  const snapshot = await snapshotOf(t, `${gw('edge', 'default', '  - {port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}')}apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: rewrites}
spec:
  hosts: ["*"]
  gateways: [edge]
  http:
  - match:
    - {uri: {prefix: /api/v1}}
    - {uri: {prefix: /legacy}}
    - {uri: {exact: /old}}
    rewrite: {uri: /v2, authority: api.internal}
    route: [{destination: {host: api.internal, port: {number: 80}}}]
  - rewrite: {uri: /app/}
    route: [{destination: {host: app.internal, port: {number: 80}}}]
`);
  const l = listener(snapshot, '0.0.0.0_80');
  const rewrite = (path: string) => {
    const action = forward(l.routes.route(view('x.com', path))?.action);
    return action.rewrite?.(path, 'x.com');
  };
  t.deepEqual(rewrite('/api/v1/users?id=1'), { path: '/v2/users?id=1', authority: 'api.internal' });
  t.deepEqual(rewrite('/legacy/users'), { path: '/v2/users', authority: 'api.internal' });
  t.deepEqual(rewrite('/old?x=1'), { path: '/v2?x=1', authority: 'api.internal' });
  t.deepEqual(rewrite('/page'), { path: '/app/page', authority: 'x.com' });
});

test('a `host` set in headers.request becomes the upstream authority; the route level beats the destination level', async (t) => {
  const snapshot = await snapshotOf(t, `${gw('edge', 'default', '  - {port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}')}apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: authority}
spec:
  hosts: ["*"]
  gateways: [edge]
  http:
  - match: [{uri: {prefix: /both}}]
    headers: {request: {set: {Host: route.example}}}
    route:
    - destination: {host: a.internal, port: {number: 80}}
      headers: {request: {set: {host: destination.example, x-env: prod}}}
  - match: [{uri: {prefix: /dest}}]
    route:
    - destination: {host: a.internal, port: {number: 80}}
      headers: {request: {add: {host: destination.example}}}
  - route: [{destination: {host: a.internal, port: {number: 80}}}]
`);
  const l = listener(snapshot, '0.0.0.0_80');
  const destination = (path: string) => forward(l.routes.route(view('x.com', path))?.action).pickDestination();
  t.is(destination('/both').authority, 'route.example');
  t.is(typeof destination('/both').requestHeaders, 'function');
  t.is(destination('/dest').authority, 'destination.example');
  t.is(destination('/').authority, undefined);
  t.is(destination('/').requestHeaders, undefined);
});

test('route fields not acted on yet (delegate) are reported as MG_ERR_CONFIG_UNSUPPORTED warnings at file:line', async (t) => {
  const yaml = `${gw('edge', 'default', '  - {port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}')}apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: extras}
spec:
  hosts: ["*"]
  gateways: [edge]
  http:
  - timeout: 5s
    retries: {attempts: 2, retryRemoteLocalities: true}
    route: [{destination: {host: a.internal, port: {number: 80}}}]
  - match: [{uri: {prefix: /team}}]
    delegate: {name: team-routes, namespace: team}
`;
  const { file, snapshot, issues } = await compileYaml(t, yaml);
  t.truthy(snapshot, issues.map(formatIssue).join('\n'));
  const unsupported = issues.filter((i) => i.code === 'MG_ERR_CONFIG_UNSUPPORTED');
  t.deepEqual(
    unsupported.map((i) => [i.severity, i.file, i.line, i.path, i.resource]),
    [
      ['warning', file, lineOf(yaml, 'retryRemoteLocalities'), 'spec.http[0].retries.retryRemoteLocalities', 'default/extras'],
      ['warning', file, lineOf(yaml, 'delegate:'), 'spec.http[1].delegate', 'default/extras'],
    ],
  );
  t.deepEqual(snapshot?.warnings.map((w) => w.path), unsupported.map((i) => i.path));
  // The route itself still forwards; the delegating route is left out, as Istio leaves out a
  // route whose delegate it cannot find.
  const l = listener(snapshot!, '0.0.0.0_80');
  t.is(clusterFor(l, view('x', '/')), 'outbound|80||a.internal');
  t.is(l.routes.findVirtualHost('x')?.routes.length, 1);
  // timeout is acted on, so it is no warning: it is the route's.
  t.is(forward(l.routes.route(view('x', '/'))?.action).timeoutMs, 5000);
});

test('a VirtualService bound to two gateways reports each of its issues once', async (t) => {
  const yaml = `${gw('a', 'default', '  - {port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}')}${gw('b', 'default', '  - {port: {number: 81, name: http, protocol: HTTP}, hosts: ["*"]}')}apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: twice}
spec:
  hosts: ["*"]
  gateways: [a, b]
  http:
  - retries: {attempts: 2, retryRemoteLocalities: true}
    route: [{destination: {host: unknown-port.internal}}]
`;
  const { issues } = await compileYaml(t, yaml);
  t.deepEqual(issues.map((i) => [i.code, i.path]), [
    ['MG_ERR_CONFIG_DESTINATION_PORT', 'spec.http[0].route[0].destination.port'],
    ['MG_ERR_CONFIG_UNSUPPORTED', 'spec.http[0].retries.retryRemoteLocalities'],
  ]);
});

test('PASSTHROUGH and TCP servers are stream listeners; the HTTP listener is the plain server alone', async (t) => {
  const yaml = `${gw('edge', 'default', `  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
  - port: {number: 8443, name: tls, protocol: TLS}
    hosts: [pass.com]
    tls: {mode: PASSTHROUGH}
  - port: {number: 5432, name: postgres, protocol: TCP}
    hosts: ["*"]`)}`;
  const { snapshot, issues } = await compileYaml(t, yaml);
  t.deepEqual(snapshot?.listeners.map((l) => l.name), ['0.0.0.0_80']);
  t.deepEqual(snapshot?.streamListeners.map((l) => [l.name, l.protocol, l.peekSni]), [['0.0.0.0_8443', 'TLS', true], ['0.0.0.0_5432', 'TCP', false]]);
  t.deepEqual(issues.map(formatIssue), []);
});

test('each match block is its own route, named after the http route and the block', async (t) => {
  const snapshot = await snapshotOf(t, `${gw('edge', 'default', '  - {port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}')}apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: names}
spec:
  hosts: ["*"]
  gateways: [edge]
  http:
  - name: web
    match: [{name: home, uri: {exact: /}}, {uri: {prefix: /static}}]
    route: [{destination: {host: web.internal, port: {number: 80}}}]
  - match: [{name: health, uri: {exact: /healthz}}]
    directResponse: {status: 204}
  - redirect: {uri: /}
`);
  const l = listener(snapshot, '0.0.0.0_80');
  t.deepEqual(routeNames(l.routes.findVirtualHost('x')?.routes), ['default/names:web.home', 'default/names:web', 'default/names:health', 'default/names:']);
  t.is(l.routes.route(view('x', '/healthz'))?.action.kind, 'direct');
  t.is(l.routes.route(view('x', '/elsewhere'))?.action.kind, 'redirect');
});

test('a VirtualService without http routes makes no virtual host: a wildcard one still serves its host', async (t) => {
  const snapshot = await snapshotOf(t, `${gw('edge', 'default', '  - {port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}')}apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: wildcard}
spec:
  hosts: ["*.example.com"]
  gateways: [edge]
  http:
  - route: [{destination: {host: web.internal, port: {number: 80}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: tcp-only}
spec:
  hosts: [a.example.com]
  gateways: [edge]
  tcp:
  - route: [{destination: {host: db.internal, port: {number: 5432}}}]
`);
  const l = listener(snapshot, '0.0.0.0_80');
  t.is(l.routes.findVirtualHost('a.example.com')?.name, '*.example.com:80');
  t.is(clusterFor(l, view('a.example.com', '/')), 'outbound|80||web.internal');
});
