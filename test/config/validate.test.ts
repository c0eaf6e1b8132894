import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import { validateConfig } from '../../src/config/validate.js';
import { formatIssue, formatPath, hasErrors } from '../../src/config/issue.js';
import { parseDuration } from '../../src/config/duration.js';
import { MeshConfigSpec } from '../../src/config/kinds/mesh-config.js';
import { defaultMeshConfig } from '../../src/config/mesh-defaults.js';

const bookinfo = fileURLToPath(new URL('./fixtures/bookinfo.yaml', import.meta.url));

async function validateText(t: { teardown(fn: () => Promise<void>): void }, text: string) {
  const root = await mkdtemp(join(tmpdir(), 'meshgate-validate-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const file = join(root, 'config.yaml');
  await writeFile(file, text);
  const loaded = await loadConfig([file], { defaultNamespace: 'default' });
  return { file, loaded, ...validateConfig(loaded.documents) };
}

test('bookinfo validates with no errors and no warnings', async (t) => {
  const loaded = await loadConfig([bookinfo], { defaultNamespace: 'default' });
  const { config, issues } = validateConfig(loaded.documents);
  t.deepEqual([...loaded.issues, ...issues].map(formatIssue), []);
  t.is(config.gateways.length, 1);
  t.deepEqual(config.virtualServices.map((vs) => vs.metadata.name), ['bookinfo', 'reviews', 'ratings']);
  t.deepEqual(config.destinationRules.find((dr) => dr.metadata.name === 'reviews')?.spec.subsets?.map((s) => s.name), ['v1', 'v2', 'v3']);
  t.is(config.serviceEntries.length, 2);
});

test('validated specs use milliseconds, upper-case protocols and Istio’s stated defaults', async (t) => {
  const loaded = await loadConfig([bookinfo], { defaultNamespace: 'default' });
  const { config } = validateConfig(loaded.documents);
  const reviews = config.virtualServices.find((vs) => vs.metadata.name === 'reviews');
  const canary = reviews?.spec.http?.[1];
  t.is(canary?.timeout, 10_000);
  t.deepEqual(canary?.retries, { attempts: 3, perTryTimeout: 2000, retryOn: 'gateway-error,connect-failure,refused-stream', retryIgnorePreviousHosts: true });
  t.is(config.gateways[0]?.spec.servers[0]?.port.protocol, 'HTTP');
  const rule = config.destinationRules.find((dr) => dr.metadata.name === 'reviews')?.spec.trafficPolicy;
  t.deepEqual(rule?.outlierDetection, { consecutive5xxErrors: 5, interval: 30_000, baseEjectionTime: 30_000, maxEjectionPercent: 10, minHealthPercent: 0 });
  t.is(rule?.connectionPool?.tcp?.connectTimeout, 10_000);
  t.is(rule?.connectionPool?.tcp?.maxConnections, 100);
});

test('without a MeshConfig, compile uses exactly what the schema fills in for an empty one', (t) => {
  t.deepEqual(MeshConfigSpec.parse({}), defaultMeshConfig);
  t.deepEqual(MeshConfigSpec.parse({ rateLimit: {} }).rateLimit, defaultMeshConfig.rateLimit);
});

test('redirect code, CORS preflight handling and other proto defaults are filled in', async (t) => {
  const { config, issues } = await validateText(t, `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: [web.example.com]
  http:
  - redirect: {uri: /new}
  - route:
    - destination: {host: web}
    corsPolicy:
      allowOrigins: [{exact: "https://example.com"}]
      maxAge: 24h
`);
  t.deepEqual(issues, []);
  const [redirect, cors] = config.virtualServices[0]?.spec.http ?? [];
  t.deepEqual(redirect?.redirect, { uri: '/new', redirectCode: 301 });
  t.is(redirect?.redirect?.derivePort, undefined);
  t.deepEqual(cors?.corsPolicy, { allowOrigins: [{ exact: 'https://example.com' }], maxAge: 86_400_000, unmatchedPreflights: 'FORWARD' });
});

test('validated resources are frozen', async (t) => {
  const loaded = await loadConfig([bookinfo], { defaultNamespace: 'default' });
  const { config } = validateConfig(loaded.documents);
  const gateway = config.gateways[0];
  t.true(Object.isFrozen(config.gateways));
  t.true(Object.isFrozen(gateway?.spec.servers[0]?.port));
  t.throws(() => (config.gateways as unknown as unknown[]).push(gateway));
});

test('every issue of a resource is reported and only that resource is left out', async (t) => {
  const { file, config, issues } = await validateText(t, `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: bad, namespace: shop}
spec:
  host: web
  trafficPolicy:
    connectionPool:
      tcp: {connectTimeout: soon}
    loadBalancer: {simple: FASTEST}
  subsets:
  - name: v1
    lables: {version: v1}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: good, namespace: shop}
spec:
  host: api
`);
  t.deepEqual(config.destinationRules.map((dr) => dr.metadata.name), ['good']);
  t.deepEqual(issues.map((i) => [i.code, i.line, i.column, i.path]), [
    ['MG_ERR_CONFIG_DURATION', 8, 13, 'spec.trafficPolicy.connectionPool.tcp.connectTimeout'],
    ['MG_ERR_CONFIG_FIELD_ENUM', 9, 20, 'spec.trafficPolicy.loadBalancer.simple'],
    ['MG_ERR_CONFIG_FIELD_UNKNOWN', 12, 5, 'spec.subsets[0].lables'],
  ]);
  t.is(
    formatIssue(issues[1]!),
    `${file}:9:20: error MG_ERR_CONFIG_FIELD_ENUM DestinationRule shop/bad spec.trafficPolicy.loadBalancer.simple: expected one of UNSPECIFIED, LEAST_CONN, RANDOM, PASSTHROUGH, ROUND_ROBIN, LEAST_REQUEST, got string "FASTEST"`,
  );
  t.true(hasErrors(issues));
});

test('cross-resource errors leave the referring resource out', async (t) => {
  const { config, issues } = await validateText(t, `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: routed}
spec:
  hosts: [web]
  gateways: [edge]
  http:
  - route:
    - destination: {host: web}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: internal}
spec:
  hosts: [web]
  http:
  - route:
    - destination: {host: web}
`);
  t.deepEqual(issues.map((i) => [i.code, i.resource, i.path]), [['MG_ERR_CONFIG_GATEWAY_MISSING', 'default/routed', 'spec.gateways[0]']]);
  t.deepEqual(config.virtualServices.map((vs) => vs.metadata.name), ['internal']);
});

test('a VirtualService bound to "mesh" only warns and is kept', async (t) => {
  const { config, issues } = await validateText(t, `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: [web]
  gateways: [mesh]
  http:
  - route:
    - destination: {host: web}
`);
  t.deepEqual(issues.map((i) => [i.code, i.severity]), [['MG_ERR_CONFIG_UNSUPPORTED', 'warning']]);
  t.false(hasErrors(issues));
  t.is(config.virtualServices.length, 1);
});

test('weights follow Istio: relative, non-negative, not all zero', async (t) => {
  const route = (weights: (number | undefined)[]) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: [web]
  http:
  - route:
${weights.map((w, i) => `    - destination: {host: web-${i}}${w === undefined ? '' : `\n      weight: ${w}`}`).join('\n')}
`;
  const codes = async (weights: (number | undefined)[]) => (await validateText(t, route(weights))).issues.map((i) => i.code);
  t.deepEqual(await codes([30, 20]), [], 'weights need not add up to 100');
  t.deepEqual(await codes([undefined]), [], 'a single destination needs no weight');
  t.deepEqual(await codes([0]), [], 'a single destination may weigh 0');
  t.deepEqual(await codes([undefined, undefined]), ['MG_ERR_CONFIG_WEIGHTS']);
  t.deepEqual(await codes([100, -1]), ['MG_ERR_CONFIG_WEIGHTS']);
});

test('Gateway servers: HTTPS and TLS may share a port, a different bind is a different port', async (t) => {
  const { issues, config } = await validateText(t, `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge}
spec:
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [a.example.com]
    tls: {mode: SIMPLE, credentialName: a}
  - port: {number: 443, name: tls, protocol: TLS}
    hosts: [b.example.com]
    tls: {mode: PASSTHROUGH}
  - port: {number: 443, name: tcp, protocol: TCP}
    bind: 127.0.0.2
    hosts: ["*"]
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [ns1/*]
  - port: {number: 80, name: http2, protocol: HTTP2}
    hosts: [ns2/*]
`);
  t.deepEqual(issues, []);
  t.is(config.gateways.length, 1);
});

test('formatPath quotes map keys that are not plain names', (t) => {
  t.is(formatPath(['spec', 'http', 1, 'route', 0, 'destination', 'subset']), 'spec.http[1].route[0].destination.subset');
  t.is(formatPath(['spec', 'http', 0, 'headers', 'request', 'set', 'x.forwarded']), 'spec.http[0].headers.request.set["x.forwarded"]');
  t.is(formatPath([]), '');
});

test('durations read as Go writes them, in milliseconds', (t) => {
  t.is(parseDuration('1.5s'), 1500);
  t.is(parseDuration('250ms'), 250);
  t.is(parseDuration('1m30s'), 90_000);
  t.is(parseDuration('1h'), 3_600_000);
  t.is(parseDuration('500us'), 0.5);
  t.is(parseDuration('0'), 0);
  for (const bad of ['', '10', '-1s', '1 s', 's', '1d', '1.5']) t.is(parseDuration(bad), undefined, bad);
});
