import test from 'ava';
import { compileYaml, lineOf, snapshotOf } from '../helpers/compile-config.js';
import type { RouteAction, Snapshot } from '../../src/config/snapshot.js';
import { createRequestView } from '../../src/routing/request-view.js';
import { gatewayYaml } from '../helpers/config-files.js';
import { virtualServiceYaml } from '../helpers/service-yaml.js';

// Compile-stage view of retries and health checks: what a route's retry policy becomes, which
// retryOn items are refused or ignored, and which clusters a HealthCheckPolicy selects.

const head = `${gatewayYaml(80)}---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: web}
spec:
  hosts: [web.internal]
  resolution: STATIC
  ports: [{number: 80, name: http}, {number: 81, name: admin}]
  endpoints: [{address: 10.0.0.1, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web}
spec:
  host: web.internal
  subsets: [{name: v1, labels: {version: v1}}]
---
`;

const vs = (http: string) => virtualServiceYaml('web', http);

function actionAt(snapshot: Snapshot, path: string): Extract<RouteAction, { kind: 'forward' }> {
  const l = snapshot.listeners.find((listener) => listener.port === 80)!;
  const action = l.routes.route(createRequestView({ method: 'GET', url: path, headers: { host: 'x' }, scheme: 'http', port: 80 }))?.action;
  if (action?.kind !== 'forward') throw new Error(`no forward route at ${path}`);
  return action;
}

test('a route without retries gets Istio\'s default policy; attempts 0 or a fault none; its own block is read', async (t) => {
  const snapshot = await snapshotOf(
    t,
    `${head}${vs(`  - match: [{uri: {prefix: /off}}]
    retries: {attempts: 0}
    route: [{destination: {host: web.internal, port: {number: 80}}}]
  - match: [{uri: {prefix: /faulted}}]
    retries: {attempts: 3, retryOn: 5xx}
    fault: {delay: {fixedDelay: 1s, percentage: {value: 1}}}
    route: [{destination: {host: web.internal, port: {number: 80}}}]
  - match: [{uri: {prefix: /own}}]
    retries: {attempts: 4, perTryTimeout: 250ms, retryOn: "gateway-error,409", backoff: 50ms, retryIgnorePreviousHosts: false}
    route: [{destination: {host: web.internal, port: {number: 80}}}]
  - route: [{destination: {host: web.internal, port: {number: 80}}}]`)}`,
  );
  const byDefault = actionAt(snapshot, '/').retry!;
  t.is(byDefault.retries, 2);
  t.true(byDefault.retriableFailure('UF'));
  t.false(byDefault.retriableResponse(503, {}));
  t.is(actionAt(snapshot, '/off').retry, undefined);
  // Istio: "timeouts or retries will not be enabled when faults are enabled".
  t.is(actionAt(snapshot, '/faulted').retry, undefined);
  const own = actionAt(snapshot, '/own').retry!;
  t.like(own, { retries: 4, perTryTimeoutMs: 250, backoffBaseMs: 50, avoidPreviousHosts: false });
  t.true(own.retriableResponse(409, {}));
  t.true(own.retriableResponse(502, {}));
  t.false(own.retriableResponse(500, {}));
});

test('retryOn: an unknown condition or a bad status code is an error at its line; Envoy conditions meshgate ignores are warnings', async (t) => {
  const yaml = `${head}${vs(`  - retries: {attempts: 2, retryOn: "5xx,bogus,999"}
    route: [{destination: {host: web.internal, port: {number: 80}}}]
  - match: [{uri: {prefix: /rl}}]
    retries: {attempts: 2, retryOn: "envoy-ratelimited,connect-failure"}
    route: [{destination: {host: web.internal, port: {number: 80}}}]`)}`;
  const { issues, snapshot } = await compileYaml(t, yaml);
  t.is(snapshot, undefined);
  t.deepEqual(
    issues.map((i) => [i.severity, i.code, i.path, i.line]),
    [
      ['error', 'MG_ERR_CONFIG_FIELD_VALUE', 'spec.http[0].retries.retryOn', lineOf(yaml, 'bogus')],
      ['error', 'MG_ERR_CONFIG_FIELD_VALUE', 'spec.http[0].retries.retryOn', lineOf(yaml, 'bogus')],
      ['warning', 'MG_ERR_CONFIG_UNSUPPORTED', 'spec.http[1].retries.retryOn', lineOf(yaml, 'envoy-ratelimited')],
    ],
  );
  t.regex(issues[0]!.message, /"bogus" is not a retry condition/);
  t.regex(issues[1]!.message, /999 is not an HTTP status code/);
});

const policy = (spec: string) => `apiVersion: meshgate.dev/v1alpha1
kind: HealthCheckPolicy
metadata: {name: web-hc}
spec:
${spec}
---
`;

test('a HealthCheckPolicy attaches to the clusters of its host, narrowed by port and subset, with its defaults', async (t) => {
  const routes = vs(`  - match: [{uri: {prefix: /v1}}]
    route: [{destination: {host: web.internal, port: {number: 80}, subset: v1}}]
  - match: [{uri: {prefix: /admin}}]
    route: [{destination: {host: web.internal, port: {number: 81}}}]
  - route: [{destination: {host: web.internal, port: {number: 80}}}]`);
  const checked = (snapshot: Snapshot) => [...snapshot.clusters.values()].filter((c) => c.healthCheck !== undefined).map((c) => c.name).sort();

  const all = await snapshotOf(t, `${head}${routes}${policy('  host: web.internal')}`);
  t.deepEqual(checked(all), ['outbound|80|v1|web.internal', 'outbound|80||web.internal', 'outbound|81||web.internal']);
  t.deepEqual(all.clusters.get('outbound|80||web.internal')?.healthCheck, {
    policy: 'default/web-hc',
    path: '/',
    host: 'web.internal',
    intervalMs: 10_000,
    timeoutMs: 1_000,
    healthyThreshold: 1,
    unhealthyThreshold: 3,
    expectedStatuses: [[200, 200]],
  });
  t.deepEqual(checked(await snapshotOf(t, `${head}${routes}${policy('  host: web.internal\n  port: {number: 80}')}`)), [
    'outbound|80|v1|web.internal',
    'outbound|80||web.internal',
  ]);
  t.deepEqual(checked(await snapshotOf(t, `${head}${routes}${policy('  host: web.internal\n  subset: v1')}`)), ['outbound|80|v1|web.internal']);
});

test('a HealthCheckPolicy that selects no cluster in use says so in a warning', async (t) => {
  const yaml = `${head}${vs('  - route: [{destination: {host: web.internal, port: {number: 80}}}]')}${policy('  host: other.internal')}`;
  const { issues, snapshot } = await compileYaml(t, yaml);
  t.truthy(snapshot);
  t.deepEqual(issues.map((i) => [i.severity, i.path, i.line]), [['warning', 'spec.host', lineOf(yaml, 'host: other.internal')]]);
  t.regex(issues[0]!.message, /no route sends traffic to other\.internal/);
});

test('outlierDetection and circuit-breaking limits reach the cluster in Istio\'s precedence: subset over rule, port level replacing whole fields', async (t) => {
  const snapshot = await snapshotOf(
    t,
    `${head.replace(
      '  subsets: [{name: v1, labels: {version: v1}}]',
      `  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: 7}
    connectionPool: {http: {http2MaxRequests: 100}}
    portLevelSettings:
    - port: {number: 81}
      connectionPool: {tcp: {maxConnections: 2}}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy: {outlierDetection: {consecutiveGatewayErrors: 2, baseEjectionTime: 1s}}`,
    )}${vs(`  - match: [{uri: {prefix: /v1}}]
    route: [{destination: {host: web.internal, port: {number: 80}, subset: v1}}]
  - match: [{uri: {prefix: /admin}}]
    route: [{destination: {host: web.internal, port: {number: 81}}}]
  - route: [{destination: {host: web.internal, port: {number: 80}}}]`)}`,
  );
  const policy = (name: string) => snapshot.clusters.get(name)?.trafficPolicy;
  t.like(policy('outbound|80||web.internal'), { outlierDetection: { consecutive5xxErrors: 7 }, connectionPool: { http: { http2MaxRequests: 100 } } });
  t.like(policy('outbound|80|v1|web.internal'), { outlierDetection: { consecutiveGatewayErrors: 2, baseEjectionTime: 1000 } });
  t.is(policy('outbound|80|v1|web.internal')?.outlierDetection?.consecutive5xxErrors, undefined);
  // Port 81's settings replace the rule's port-level fields whole: no outlierDetection there.
  t.like(policy('outbound|81||web.internal'), { connectionPool: { tcp: { maxConnections: 2 } } });
  t.is(policy('outbound|81||web.internal')?.outlierDetection, undefined);
});
