import test from 'ava';
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { request } from 'undici';
import { freePort } from '../helpers/free-port.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { configDir, gatewayWithServersYaml, loopbackServiceEntryYaml, writeConfig } from '../helpers/config-files.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { scrape, scrapeUntil, select, total } from '../helpers/prometheus-text.js';
import { issueCert, makeCa, writeCredential } from '../helpers/certs.js';
import { requireTool } from '../helpers/require-tool.js';

// Known traffic through the built gateway, then a scrape of /stats/prometheus as Prometheus
// does it: Istio's metric and label names, counts that match the requests exactly (with one
// worker and with two, whose numbers the primary adds up), and the TCP relay metrics.

// Istio's label names in the order its stats plugin emits them, written out here on purpose:
// the test checks the source's list against Istio's, not against itself.
const istioLabels = [
  'reporter',
  'source_workload',
  'source_canonical_service',
  'source_canonical_revision',
  'source_workload_namespace',
  'source_principal',
  'source_app',
  'source_version',
  'source_cluster',
  'destination_workload',
  'destination_workload_namespace',
  'destination_principal',
  'destination_app',
  'destination_version',
  'destination_service',
  'destination_canonical_service',
  'destination_canonical_revision',
  'destination_service_name',
  'destination_service_namespace',
  'destination_cluster',
  'request_protocol',
  'response_code',
  'grpc_response_status',
  'response_flags',
  'connection_security_policy',
];

const responseBody = 'x'.repeat(1234);

let upstream: TestUpstream;
let echo: Server;

test.before(async () => {
  upstream = await startUpstream('app', (_req, res) => {
    _req.resume();
    _req.once('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(responseBody);
    });
  });
  echo = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
});

test.after.always(async () => {
  await upstream.close();
  echo.close();
});

function configYaml(httpPort: number, tcpPort: number): string {
  return `${gatewayWithServersYaml(`    - port: { number: ${httpPort}, name: http, protocol: HTTP }
      hosts: ["*"]
    - port: { number: ${tcpPort}, name: tcp, protocol: TCP }
      hosts: ["*"]
`)}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: app }
spec:
  hosts: [app.example.com]
  gateways: [edge]
  http:
    - match: [{ uri: { prefix: /direct } }]
      directResponse: { status: 200, body: { string: hello } }
    - match: [{ uri: { prefix: /old } }]
      redirect: { uri: /new }
    - route: [{ destination: { host: app.internal, subset: v1 } }]
  tcp:
    - route: [{ destination: { host: echo.internal } }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: app, namespace: shop }
spec:
  hosts: [app.internal]
  resolution: STATIC
  ports: [{ number: ${upstream.port}, name: http, protocol: HTTP }]
  endpoints: [{ address: 127.0.0.1, labels: { version: v1 } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: app, namespace: shop }
spec:
  host: app.internal
  subsets: [{ name: v1, labels: { version: v1 } }]
${loopbackServiceEntryYaml('echo', (echo.address() as AddressInfo).port)}`;
}

async function send(base: string, path: string, options: { method?: 'GET' | 'POST'; body?: string; host?: string } = {}): Promise<number> {
  const response = await request(`${base}${path}`, {
    method: options.method ?? 'GET',
    headers: { host: options.host ?? 'app.example.com', connection: 'close' },
    ...(options.body === undefined ? {} : { body: options.body }),
  });
  await response.body.dump();
  return response.statusCode;
}

for (const workers of [1, 2]) {
  test.serial(`HTTP requests are counted exactly with Istio's names and labels (--workers ${workers})`, async (t) => {
    const httpPort = await freePort();
    const tcpPort = await freePort();
    const dir = await configDir('metrics');
    await writeConfig(dir, 'config.yaml', configYaml(httpPort, tcpPort));
    const gateway: GatewayProcess = await startGatewayProcess(['--config', dir, '--workers', String(workers), '--workload-name', 'edge-gw', '--namespace', 'ingress']);
    t.teardown(() => gateway.stop());
    const base = `http://127.0.0.1:${httpPort}`;

    // 6 GETs and 3 POSTs of 100 bytes to the upstream, 2 direct responses, 1 redirect, 4 without a route.
    for (let i = 0; i < 6; i++) t.is(await send(base, `/item/${i}`), 200);
    for (let i = 0; i < 3; i++) t.is(await send(base, '/item', { method: 'POST', body: 'b'.repeat(100) }), 200);
    for (let i = 0; i < 2; i++) t.is(await send(base, '/direct'), 200);
    t.is(await send(base, '/old'), 301);
    for (let i = 0; i < 4; i++) t.is(await send(base, '/', { host: 'nowhere.example.com' }), 404);

    const url = `http://127.0.0.1:${gateway.adminPort}/stats/prometheus`;
    const { contentType, samples } = await scrapeUntil(url, (s) => total(s, 'istio_requests_total') >= 16);
    t.regex(contentType, /^text\/plain; version=0\.0\.4/);
    t.is(total(samples, 'istio_requests_total'), 16);

    const upstreamSeries = select(samples, 'istio_requests_total', { destination_service: 'app.internal' });
    t.is(upstreamSeries.length, 1);
    const labels = upstreamSeries[0]!.labels;
    t.deepEqual(Object.keys(labels), istioLabels);
    t.like(labels, {
      reporter: 'source',
      source_workload: 'edge-gw',
      source_workload_namespace: 'ingress',
      destination_service: 'app.internal',
      destination_service_name: 'app.internal',
      destination_service_namespace: 'shop',
      destination_version: 'v1',
      request_protocol: 'http',
      response_code: '200',
      grpc_response_status: '',
      response_flags: '-',
      connection_security_policy: 'unknown',
      destination_workload: 'unknown',
    });
    t.is(upstreamSeries[0]!.value, 9);

    // Answers the gateway gives itself have no destination, as Istio labels them.
    const unknownDestination = { destination_service: 'unknown', destination_service_name: 'unknown', destination_service_namespace: 'unknown', destination_version: 'unknown' };
    t.is(total(samples, 'istio_requests_total', { ...unknownDestination, response_code: '200', response_flags: '-' }), 2);
    t.is(total(samples, 'istio_requests_total', { ...unknownDestination, response_code: '301', response_flags: '-' }), 1);
    t.is(total(samples, 'istio_requests_total', { ...unknownDestination, response_code: '404', response_flags: 'NR' }), 4);

    // Histograms: one observation per request; the bytes are the bodies'.
    const app = { destination_service: 'app.internal' };
    for (const name of ['istio_request_duration_milliseconds', 'istio_request_bytes', 'istio_response_bytes']) {
      t.is(total(samples, `${name}_count`, app), 9, name);
      t.is(total(samples, `${name}_bucket`, { ...app, le: '+Inf' }), 9, name);
      t.is(total(samples, `${name}_count`), 16, name);
    }
    t.is(total(samples, 'istio_request_bytes_sum', app), 300);
    t.is(total(samples, 'istio_response_bytes_sum', app), 9 * responseBody.length);
    t.is(total(samples, 'istio_request_bytes_bucket', { ...app, le: '0.5' }), 6, 'GETs have empty bodies');
    t.is(total(samples, 'istio_request_bytes_bucket', { ...app, le: '100' }), 9);
    t.is(total(samples, 'istio_response_bytes_bucket', { ...app, le: '1000' }), 0);
    t.deepEqual(
      select(samples, 'istio_request_duration_milliseconds_bucket', app).map((s) => s.labels.le),
      ['0.5', '1', '5', '10', '25', '50', '100', '250', '500', '1000', '2500', '5000', '10000', '30000', '60000', '300000', '600000', '1800000', '3600000', '+Inf'],
    );

    // meshgate's own: the gateway as a whole.
    t.is(total(samples, 'meshgate_workers'), workers);
    t.is(total(samples, 'meshgate_config_generation'), 1);
    t.is(total(samples, 'meshgate_config_reloads_total', { result: 'refused' }), 0);
    t.is(total(samples, 'meshgate_cluster_endpoints', { cluster: `outbound|${upstream.port}|v1|app.internal`, health: 'healthy' }), 1);

    // The same numbers on Istio's Prometheus port.
    const prometheus = await gateway.waitForLog((l) => l.msg === 'prometheus ready');
    const onPort = await scrape(`http://127.0.0.1:${prometheus.port as number}/stats/prometheus`);
    t.is(total(onPort.samples, 'istio_requests_total'), 16);
  });
}

/** Sends `message` over a TCP connection through the gateway and resolves with what came back. */
function tcpRoundTrip(port: number, message: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(message));
    let got = '';
    socket.on('data', (chunk: Buffer) => (got += chunk.toString()));
    socket.once('close', () => resolve(got));
    socket.once('error', reject);
  });
}

test.serial('TCP relays are counted: connections opened and closed, bytes each way', async (t) => {
  const httpPort = await freePort();
  const tcpPort = await freePort();
  const dir = await configDir('metrics-tcp');
  await writeConfig(dir, 'config.yaml', configYaml(httpPort, tcpPort));
  const gateway = await startGatewayProcess(['--config', dir, '--workers', '2']);
  t.teardown(() => gateway.stop());

  const url = `http://127.0.0.1:${gateway.adminPort}/stats/prometheus`;
  const echoService = { destination_service: 'echo.internal', request_protocol: 'tcp' };

  // A relay still open: counted opened, not closed, its bytes so far counted, and its client connection active.
  const held = connect(tcpPort, '127.0.0.1');
  held.write('held');
  await new Promise((resolve) => held.once('data', resolve));
  const open = await scrapeUntil(url, (s) => total(s, 'istio_tcp_connections_opened_total', echoService) >= 1);
  t.is(total(open.samples, 'istio_tcp_connections_opened_total', echoService), 1);
  t.is(total(open.samples, 'istio_tcp_connections_closed_total', echoService), 0);
  t.is(total(open.samples, 'istio_tcp_received_bytes_total', echoService), 'held'.length, 'the bytes of an open relay count at each scrape');
  t.is(total(open.samples, 'istio_tcp_sent_bytes_total', echoService), 'held'.length);
  t.is(total(open.samples, 'meshgate_downstream_connections_active', { listener: `0.0.0.0_${tcpPort}` }), 1);
  await new Promise((resolve) => {
    held.once('close', resolve);
    held.end();
  });

  for (const message of ['hello', 'a longer message']) t.is(await tcpRoundTrip(tcpPort, message), message);
  const { samples } = await scrapeUntil(url, (s) => total(s, 'istio_tcp_connections_closed_total') >= 3);
  t.is(total(samples, 'istio_tcp_connections_opened_total', echoService), 3);
  t.is(total(samples, 'istio_tcp_connections_closed_total', echoService), 3);
  const bytes = 'held'.length + 'hello'.length + 'a longer message'.length;
  t.is(total(samples, 'istio_tcp_received_bytes_total', echoService), bytes);
  t.is(total(samples, 'istio_tcp_sent_bytes_total', echoService), bytes);
  t.is(total(samples, 'meshgate_downstream_connections_active', { listener: `0.0.0.0_${tcpPort}` }), 0);
  const series = select(samples, 'istio_tcp_connections_opened_total', echoService)[0]!;
  t.deepEqual(
    Object.keys(series.labels),
    istioLabels.filter((name) => name !== 'response_code' && name !== 'grpc_response_status'),
  );
  t.is(series.labels.response_flags, '-');
});

/** Every Prometheus query of the dashboard: panel targets and template variable queries. */
function dashboardQueries(dashboard: unknown): string[] {
  const queries: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (node === null || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      if ((key === 'expr' || key === 'definition') && typeof value === 'string') queries.push(value);
      else walk(value);
    }
  };
  walk(dashboard);
  return queries;
}

test.serial('the Grafana dashboard queries only metrics the gateway exports', async (t) => {
  const dashboard: unknown = JSON.parse(await readFile(new URL('../../deploy/grafana/meshgate-dashboard.json', import.meta.url), 'utf8'));
  const queries = dashboardQueries(dashboard);
  t.true(queries.length >= 15, `queries found: ${queries.length}`);

  const httpPort = await freePort();
  const tcpPort = await freePort();
  const dir = await configDir('metrics-dashboard');
  await writeConfig(dir, 'config.yaml', configYaml(httpPort, tcpPort));
  const gateway = await startGatewayProcess(['--config', dir]);
  t.teardown(() => gateway.stop());
  t.is(await send(`http://127.0.0.1:${httpPort}`, '/item'), 200);
  t.is(await tcpRoundTrip(tcpPort, 'ping'), 'ping');

  const response = await request(`http://127.0.0.1:${gateway.adminPort}/stats/prometheus`);
  const text = await response.body.text();
  // What a scrape declares (a labelled gauge with no value yet still has its TYPE line), with a histogram's series names.
  const exported = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    exported.add(name!);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) exported.add(`${name!}${suffix}`);
  }
  for (const query of queries) {
    const names = [...query.matchAll(/\b(?:istio|meshgate)_[a-z0-9_]+/g)].map((m) => m[0]);
    t.true(names.length > 0, `a query that names no meshgate metric: ${query}`);
    for (const name of names) t.true(exported.has(name), `${name} (in "${query}") is not a metric meshgate exports`);
  }
  // The dashboard's panels cover the request rate, latency and TCP bytes Istio's own dashboards show.
  const all = queries.join('\n');
  for (const name of ['istio_requests_total', 'istio_request_duration_milliseconds_bucket', 'istio_tcp_sent_bytes_total', 'istio_tcp_received_bytes_total', 'meshgate_cluster_endpoints']) {
    t.true(all.includes(name), name);
  }
});

const opensslTest = requireTool('openssl') ? test.serial : test.serial.skip;

opensslTest('reloads are counted by result, with the generation served and the certificates\' expiry', async (t) => {
  const port = await freePort();
  const dir = await configDir('metrics-reload');
  const certs = path.join(dir, 'certs');
  const ca = await makeCa(dir, 'metrics-ca');
  const served = await issueCert(dir, ca, 'web', { sans: ['web.test'], days: 10 });
  await writeCredential(certs, 'web', served);
  await mkdir(path.join(dir, 'config'));
  const config = (hosts: string) => `${gatewayWithServersYaml(`    - port: { number: ${port}, name: https, protocol: HTTPS }
      hosts: [${hosts}]
      tls: { mode: SIMPLE, credentialName: web }
`)}`;
  await writeConfig(path.join(dir, 'config'), 'gateway.yaml', config('web.test'));
  const gateway = await startGatewayProcess(['--config', path.join(dir, 'config'), '--certs', certs]);
  t.teardown(() => gateway.stop());
  const url = `http://127.0.0.1:${gateway.adminPort}/stats/prometheus`;

  const first = (await scrape(url)).samples;
  const expiry = select(first, 'meshgate_certificate_expiry_timestamp_seconds');
  t.is(expiry.length, 1);
  t.like(expiry[0]!.labels, { server: 'default/edge#0', subject: 'CN=web, O=meshgate tests' });
  t.is(expiry[0]!.value, Math.floor(Date.parse(new X509Certificate(served.cert).validTo) / 1000));
  t.is(total(first, 'meshgate_config_generation'), 1);
  t.is(total(first, 'meshgate_config_reloads_total', { result: 'ok' }), 0);

  await writeConfig(path.join(dir, 'config'), 'gateway.yaml', config('web.test').replace('protocol: HTTPS', 'protocol: HTTPS, bogus: 1'));
  await gateway.waitForLog((l) => l.msg === 'config reload refused; the last good config keeps serving');
  const refused = (await scrape(url)).samples;
  t.is(total(refused, 'meshgate_config_reloads_total', { result: 'refused' }), 1);
  t.is(total(refused, 'meshgate_config_generation'), 1);

  await writeConfig(path.join(dir, 'config'), 'gateway.yaml', config('web.test, www.web.test'));
  await gateway.waitForLog((l) => l.msg === 'config reloaded' && l.generation === 2);
  const applied = (await scrape(url)).samples;
  t.is(total(applied, 'meshgate_config_reloads_total', { result: 'ok' }), 1);
  t.is(total(applied, 'meshgate_config_reloads_total', { result: 'refused' }), 1);
  t.is(total(applied, 'meshgate_config_generation'), 2);
  t.is(total(applied, 'meshgate_worker_restarts_total'), 0);

  // A worker that dies is replaced and counted.
  const workers = (await (await request(`http://127.0.0.1:${gateway.adminPort}/workers`)).body.json()) as { pids: number[] };
  process.kill(workers.pids[0]!, 'SIGKILL');
  await gateway.waitForLog((l) => l.msg === 'worker exited; starting another');
  const restarted = (await scrapeUntil(url, (s) => total(s, 'meshgate_workers') === 1)).samples;
  t.is(total(restarted, 'meshgate_worker_restarts_total'), 1);
  t.is(total(restarted, 'meshgate_workers'), 1);
});
