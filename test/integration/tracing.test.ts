import test from 'ava';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { freePort } from '../helpers/free-port.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startGatewayProcess, testMeshSpec, type GatewayProcess } from '../helpers/gateway-process.js';
import { configDir, singleRouteConfig, writeConfig } from '../helpers/config-files.js';
import { eventually } from '../helpers/eventually.js';

// Tracing through the built gateway: the client's trace (W3C or B3) reaches the upstream with
// the same trace id and the gateway's span as the new parent, x-request-id is kept or made, and
// the gateway's spans arrive at a real OTLP/HTTP collector socket (JSON bodies, decoded here).

interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: { key: string; value: { intValue?: number | string; stringValue?: string } }[];
}

interface World {
  gateway: GatewayProcess;
  port: number;
  app: TestUpstream;
  collector: Server;
  spans: ExportedSpan[];
  /** Content types the collector received. */
  contentTypes: string[];
}

let world: World;

test.before(async () => {
  const spans: ExportedSpan[] = [];
  const contentTypes: string[] = [];
  const collector = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      contentTypes.push(`${req.method} ${req.url} ${req.headers['content-type']}`);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { resourceSpans: { scopeSpans: { spans: ExportedSpan[] }[] }[] };
      for (const resource of body.resourceSpans) for (const scope of resource.scopeSpans) spans.push(...scope.spans);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  const collectorPort = (collector.address() as AddressInfo).port;
  const app = await startUpstream('app');
  const port = await freePort();
  const dir = await configDir('tracing');
  const local = `
    - match: [{ uri: { prefix: /local } }]
      directResponse: { status: 418 }`;
  await writeConfig(dir, 'app.yaml', singleRouteConfig({ port, upstreamPort: app.port, extraRoute: local }));
  const mesh = `${testMeshSpec}defaultConfig:
  tracing:
    sampling: 100
extensionProviders:
  - name: otel
    opentelemetry:
      service: 127.0.0.1
      port: ${collectorPort}
      http:
        path: /v1/traces
defaultProviders:
  tracing: [otel]
`;
  world = { gateway: await startGatewayProcess(['--config', dir, '--no-watch'], { mesh }), port, app, collector, spans, contentTypes };
});

test.after.always(async () => {
  await world?.gateway.stop();
  await world?.app.close();
  world?.collector.close();
});

const get = async (path: string, headers: Record<string, string> = {}) => {
  const response = await request(`http://127.0.0.1:${world.port}${path}`, { headers });
  await response.body.dump();
  t200(response.statusCode);
  return eventually(() => world.app.seen.find((seen) => seen.url === path));
};

function t200(status: number): void {
  if (status !== 200) throw new Error(`expected 200, got ${status}`);
}

const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const clientSpan = '00f067aa0ba902b7';

test('W3C: same trace id, the gateway span as parent, sampled kept, tracestate and x-request-id passed on; the span reaches the collector', async (t) => {
  const seen = await get('/w3c', { traceparent: `00-${traceId}-${clientSpan}-01`, tracestate: 'vendor=abc', 'x-request-id': 'kept-id-1' });
  const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(String(seen.headers.traceparent));
  t.truthy(match, String(seen.headers.traceparent));
  t.is(match![1], traceId);
  const gatewaySpan = match![2]!;
  t.not(gatewaySpan, clientSpan);
  t.is(seen.headers.tracestate, 'vendor=abc');
  t.is(seen.headers['x-request-id'], 'kept-id-1');
  t.is(seen.headers['x-b3-traceid'], undefined, 'a W3C client gets no B3 headers added');

  const span = await eventually(() => world.spans.find((s) => s.spanId === gatewaySpan), 15_000);
  t.is(span.traceId, traceId);
  t.is(span.parentSpanId, clientSpan);
  t.is(span.name, `127.0.0.1:${world.port}/w3c`);
  t.true(world.contentTypes.some((line) => line === 'POST /v1/traces application/json'), world.contentTypes.join('\n'));
});

test('B3 multi-header: same trace id (64-bit kept 64-bit), new span id, the client span as x-b3-parentspanid, sampled kept', async (t) => {
  const shortTrace = 'a3ce929d0e0e4736';
  const seen = await get('/b3', { 'x-b3-traceid': shortTrace, 'x-b3-spanid': clientSpan, 'x-b3-sampled': '0' });
  t.is(seen.headers['x-b3-traceid'], shortTrace);
  t.regex(String(seen.headers['x-b3-spanid']), /^[0-9a-f]{16}$/);
  t.not(seen.headers['x-b3-spanid'], clientSpan);
  t.is(seen.headers['x-b3-parentspanid'], clientSpan);
  t.is(seen.headers['x-b3-sampled'], '0');
  t.is(seen.headers.traceparent, `00-${'0'.repeat(16)}${shortTrace}-${String(seen.headers['x-b3-spanid'])}-00`);
  t.regex(String(seen.headers['x-request-id']), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a UUID v4 made by the gateway');
});

test('single b3 header: rewritten with the gateway span and the client span as parent', async (t) => {
  const seen = await get('/b3-single', { b3: `${traceId}-${clientSpan}-1` });
  const parts = String(seen.headers.b3).split('-');
  t.is(parts.length, 4);
  t.is(parts[0], traceId);
  t.not(parts[1], clientSpan);
  t.is(parts[2], '1');
  t.is(parts[3], clientSpan);
});

test('no trace from the client: the gateway starts one (sampling 100%) in W3C and B3 form, and exports its root span', async (t) => {
  const seen = await get('/fresh');
  const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(String(seen.headers.traceparent));
  t.truthy(match);
  t.is(seen.headers['x-b3-traceid'], match![1]);
  t.is(seen.headers['x-b3-spanid'], match![2]);
  t.is(seen.headers['x-b3-sampled'], '1');
  t.is(seen.headers['x-b3-parentspanid'], undefined);
  const span = await eventually(() => world.spans.find((s) => s.spanId === match![2]), 15_000);
  t.is(span.traceId, match![1]!);
  t.falsy(span.parentSpanId);
});

test('an answer the gateway gives itself (directResponse) is a span of the client\'s trace, with its status', async (t) => {
  const otherTrace = 'aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbb';
  const response = await request(`http://127.0.0.1:${world.port}/local`, { headers: { traceparent: `00-${otherTrace}-${clientSpan}-01` } });
  await response.body.dump();
  t.is(response.statusCode, 418);
  const span = await eventually(() => world.spans.find((s) => s.traceId === otherTrace), 15_000);
  t.is(span.parentSpanId, clientSpan);
  t.is(Number(span.attributes.find((a) => a.key === 'http.response.status_code')?.value.intValue), 418);
});
