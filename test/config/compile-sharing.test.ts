import test from 'ava';
import { snapshotOf } from '../helpers/compile-config.js';
import type { HttpRoute, RouteAction, Snapshot } from '../../src/config/snapshot.js';
import { createRequestView } from '../../src/routing/request-view.js';
import { gatewayWithServersYaml, gatewayYaml } from '../helpers/config-files.js';

// One compile shares the compiled pieces that equal config produces (src/config/interner.ts):
// routes that repeat a match, a retry policy, header edits or destinations point at one object,
// and routes that differ in any of them get their own.

const serviceEntry = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: web}
spec:
  hosts: [web.internal, api.internal]
  resolution: STATIC
  ports: [{number: 80, name: http}]
  endpoints: [{address: 10.0.0.1}]
---
`;

const repeated = `  - match: [{uri: {prefix: /x}, headers: {x-tier: {exact: gold}}}]
    retries: {attempts: 3, retryOn: 5xx}
    route:
      - destination: {host: web.internal, port: {number: 80}}
        headers: {request: {set: {x-route: a}}}`;

function virtualService(name: string, host: string, http: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}}
spec:
  hosts: [${host}]
  gateways: [edge]
  http:
${http}
---
`;
}

const yaml = `${gatewayYaml(80)}---
${serviceEntry}${virtualService('a', 'a.com', repeated)}${virtualService('b', 'b.com', `${repeated}
  - match: [{uri: {prefix: /x}, headers: {x-tier: {exact: silver}}}]
    retries: {attempts: 4, retryOn: 5xx}
    route:
      - destination: {host: web.internal, port: {number: 80}}
        headers: {request: {set: {x-route: b}}}
  - route: [{destination: {host: api.internal, port: {number: 80}}}]`)}`;

function routesOf(snapshot: Snapshot, host: string): readonly HttpRoute[] {
  return snapshot.listeners[0]!.routes.findVirtualHost(host)!.routes;
}

function forward(route: HttpRoute): Extract<RouteAction, { kind: 'forward' }> {
  if (route.action.kind !== 'forward') throw new Error(`route ${route.name} does not forward`);
  return route.action;
}

function request(path: string, tier: string) {
  return createRequestView({ method: 'GET', url: path, headers: { host: 'b.com', 'x-tier': tier }, scheme: 'http', port: 80 });
}

test('routes of different VirtualServices with an equal match, retries, header edits and destination share one compiled piece each', async (t) => {
  const snapshot = await snapshotOf(t, yaml);
  const [a] = routesOf(snapshot, 'a.com');
  const [b] = routesOf(snapshot, 'b.com');
  t.is(a!.match, b!.match);
  t.is(forward(a!).retry, forward(b!).retry);
  t.is(forward(a!).pickDestination(), forward(b!).pickDestination());
  t.is(forward(a!).pickDestination().requestHeaders, forward(b!).pickDestination().requestHeaders);
  t.is(a!.action, b!.action);
  // Each route still names its own VirtualService.
  t.is(a!.virtualService, 'default/a');
  t.is(b!.virtualService, 'default/b');
});

test('routes that differ in their match, retries, header edits or destination do not share them', async (t) => {
  const snapshot = await snapshotOf(t, yaml);
  const [gold, silver, catchAll] = routesOf(snapshot, 'b.com');
  t.not(gold!.match, silver!.match);
  t.not(forward(gold!).retry, forward(silver!).retry);
  t.is(forward(silver!).retry!.retries, 4);
  t.not(forward(gold!).pickDestination().requestHeaders, forward(silver!).pickDestination().requestHeaders);
  t.is(forward(catchAll!).pickDestination().cluster, 'outbound|80||api.internal');
  t.is(forward(catchAll!).pickDestination().requestHeaders, undefined);
  // A shared match answers for each route as its own would.
  t.true(gold!.match(request('/x/1', 'gold')));
  t.false(gold!.match(request('/x/1', 'silver')));
  t.true(silver!.match(request('/x/1', 'silver')));
});

test("the clusters of a STATIC ServiceEntry's hosts share its endpoint list and endpoint objects", async (t) => {
  const snapshot = await snapshotOf(t, yaml);
  const web = snapshot.clusters.get('outbound|80||web.internal')!;
  const api = snapshot.clusters.get('outbound|80||api.internal')!;
  t.is(web.endpoints, api.endpoints);
  t.like(web.endpoints, { kind: 'static', endpoints: [{ address: '10.0.0.1', port: 80 }] });
});

test('the same match block seen through different gateways is compiled for each', async (t) => {
  const twoGateways = `${gatewayYaml(80)}---
${gatewayWithServersYaml('    - port: { number: 81, name: http, protocol: HTTP }\n      hosts: ["*"]\n', 'other')}---
${serviceEntry}apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: both}
spec:
  hosts: [a.com]
  gateways: [edge, other]
  http:
    - match: [{uri: {prefix: /x}, gateways: [edge]}]
      route: [{destination: {host: web.internal, port: {number: 80}}}]
    - route: [{destination: {host: api.internal, port: {number: 80}}}]
`;
  const snapshot = await snapshotOf(t, twoGateways);
  const on = (port: number) => snapshot.listeners.find((l) => l.port === port)!.routes.findVirtualHost('a.com')!.routes[0]!;
  const view = (port: number) => createRequestView({ method: 'GET', url: '/x', headers: { host: 'a.com' }, scheme: 'http', port });
  t.true(on(80).match(view(80)));
  t.false(on(81).match(view(81)), 'the block names only the edge gateway');
});
