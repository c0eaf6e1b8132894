import test from 'ava';
import { compileYaml, lineOf, snapshotOf } from '../helpers/compile-config.js';
import { gatewayYaml } from '../helpers/config-files.js';
import { virtualServiceYaml } from '../helpers/service-yaml.js';
import type { RouteAction, Snapshot } from '../../src/config/snapshot.js';
import { createRequestView } from '../../src/routing/request-view.js';

// http[].fault and mirror/mirrors as they compile: Istio's defaults for absent percentages, the
// deprecated integer fields, the timeout a fault switches off, and the clusters mirrors need.

const config = (http: string, extra = '') => `${gatewayYaml(80)}---
${virtualServiceYaml('app', http)}apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: services}
spec:
  hosts: [app.internal, shadow.internal]
  resolution: STATIC
  ports: [{number: 8080, name: http, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1}]
${extra}`;

const to = (host: string) => `{host: ${host}.internal}`;

function forwardAt(snapshot: Snapshot, path: string): Extract<RouteAction, { kind: 'forward' }> {
  const view = createRequestView({ method: 'GET', url: path, headers: { host: 'x' }, scheme: 'http', port: 80 });
  const action = snapshot.listeners[0]?.routes.route(view)?.action;
  if (action?.kind !== 'forward') throw new Error(`no forward route for ${path}`);
  return action;
}

test('fault: percentages as fractions, decimals kept; absent percentage is 0; deprecated percent; gRPC status code', async (t) => {
  const snapshot = await snapshotOf(
    t,
    config(`  - match: [{uri: {prefix: /a}}]
    fault:
      delay: {fixedDelay: 1.5s, percentage: {value: 0.1}}
      abort: {httpStatus: 418, percentage: {value: 12.5}}
    route: [{destination: ${to('app')}}]
  - match: [{uri: {prefix: /b}}]
    fault:
      delay: {fixedDelay: 10ms, percent: 40}
      abort: {httpStatus: 503}
    route: [{destination: ${to('app')}}]
  - match: [{uri: {prefix: /c}}]
    fault:
      delay: {fixedDelay: 10ms, percent: 40, percentage: {}}
      abort: {grpcStatus: UNAVAILABLE, percentage: {value: 100}}
    route: [{destination: ${to('app')}}]`),
  );
  t.deepEqual(forwardAt(snapshot, '/a').fault, { delay: { ms: 1500, chance: 0.001 }, abort: { chance: 0.125, httpStatus: 418 } });
  t.deepEqual(forwardAt(snapshot, '/b').fault, { delay: { ms: 10, chance: 0.4 }, abort: { chance: 0, httpStatus: 503 } });
  // `percentage` wins over the deprecated `percent`, even without a value (Istio reads it as 0).
  t.deepEqual(forwardAt(snapshot, '/c').fault, { delay: { ms: 10, chance: 0 }, abort: { chance: 1, httpStatus: 200, grpcStatus: 14 } });
});

test("a route's timeout is dropped when it has a fault (Istio's rule), kept otherwise", async (t) => {
  const snapshot = await snapshotOf(
    t,
    config(`  - match: [{uri: {prefix: /faulted}}]
    timeout: 2s
    fault: {abort: {httpStatus: 503, percentage: {value: 1}}}
    route: [{destination: ${to('app')}}]
  - timeout: 2s
    route: [{destination: ${to('app')}}]`),
  );
  const faulted = forwardAt(snapshot, '/faulted');
  t.truthy(faulted.fault);
  t.is(faulted.timeoutMs, undefined);
  t.is(forwardAt(snapshot, '/other').timeoutMs, 2000);
  t.is(forwardAt(snapshot, '/other').fault, undefined);
});

test('mirror defaults to 100%, mirrorPercentage and deprecated mirrorPercent count, 0 mirrors nothing; mirrors[] each; mirror clusters exist', async (t) => {
  const snapshot = await snapshotOf(
    t,
    config(`  - match: [{uri: {prefix: /all}}]
    mirror: ${to('shadow')}
    route: [{destination: ${to('app')}}]
  - match: [{uri: {prefix: /part}}]
    mirror: ${to('shadow')}
    mirrorPercentage: {value: 25.5}
    route: [{destination: ${to('app')}}]
  - match: [{uri: {prefix: /old}}]
    mirror: ${to('shadow')}
    mirrorPercent: 40
    route: [{destination: ${to('app')}}]
  - match: [{uri: {prefix: /off}}]
    mirror: {host: unused.internal, port: {number: 9}}
    mirrorPercentage: {value: 0}
    route: [{destination: ${to('app')}}]
  - match: [{uri: {prefix: /list}}]
    mirrors:
    - destination: ${to('shadow')}
    - destination: {host: app.internal, port: {number: 8080}}
      percentage: {value: 5}
    route: [{destination: ${to('app')}}]`),
  );
  const shadow = 'outbound|8080||shadow.internal';
  const app = 'outbound|8080||app.internal';
  t.deepEqual(forwardAt(snapshot, '/all').mirrors, [{ cluster: shadow, chance: 1 }]);
  t.deepEqual(forwardAt(snapshot, '/part').mirrors, [{ cluster: shadow, chance: 0.255 }]);
  t.deepEqual(forwardAt(snapshot, '/old').mirrors, [{ cluster: shadow, chance: 0.4 }]);
  t.is(forwardAt(snapshot, '/off').mirrors, undefined);
  t.deepEqual(forwardAt(snapshot, '/list').mirrors, [
    { cluster: shadow, chance: 1 },
    { cluster: app, chance: 0.05 },
  ]);
  t.true(snapshot.clusters.has(shadow), 'the mirror destination has its cluster');
  t.false([...snapshot.clusters.keys()].some((name) => name.includes('unused.internal')), 'a mirror that never sends needs no cluster');
});

test("a mirror destination's port problem is reported at the mirror's field path", async (t) => {
  const alone = config(
    `  - mirror: {host: multi.internal}
    route: [{destination: ${to('app')}}]`,
    `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: multi}
spec:
  hosts: [multi.internal]
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}, {number: 81, name: http-alt, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1}]
`,
  );
  const compiled = await compileYaml(t, alone);
  t.deepEqual(
    compiled.issues.map((i) => [i.code, i.severity, i.line, i.path]),
    [['MG_ERR_CONFIG_DESTINATION_PORT', 'error', lineOf(alone, 'mirror: {host: multi'), 'spec.http[0].mirror.port']],
  );
});
