import test from 'ava';
import { request } from 'undici';
import { freePort } from '../helpers/free-port.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { accessLogLine } from '../helpers/access-log-line.js';
import { configDir, singleRouteConfig, writeConfig } from '../helpers/config-files.js';
import { eventually } from '../helpers/eventually.js';
import { sendMany } from '../helpers/send-many.js';

// VirtualService http[].fault through the built gateway: the delay before forwarding and the
// abort the gateway answers itself, their percentages over many requests, Envoy's replies
// (gRPC ones too), the DI and FI flags, and Istio's rule that a route with a fault has no timeout.

interface World {
  gateway: GatewayProcess;
  port: number;
  app: TestUpstream;
}

let world: World;

const route = (prefix: string, fault: string, extra = '') => `
    - match: [{ uri: { prefix: ${prefix} } }]${extra}
      fault: ${fault}
      route:
        - destination: { host: app.internal, port: { number: APP_PORT } }`;

test.before(async () => {
  const app = await startUpstream('app', (req, res) => {
    // /late answers after 400 ms, past the 100 ms timeout its route also sets.
    const answer = () => res.end(`served ${req.url}`);
    if (req.url?.startsWith('/late')) setTimeout(answer, 400);
    else answer();
  });
  const port = await freePort();
  const dir = await configDir('fault');
  const routes = [
    route('/odds', '{ delay: { fixedDelay: 1ms, percentage: { value: 25 } }, abort: { httpStatus: 418, percentage: { value: 12.5 } } }'),
    route('/sample', '{ delay: { fixedDelay: 150ms, percent: 50 } }'),
    route('/both', '{ delay: { fixedDelay: 1ms, percentage: { value: 100 } }, abort: { httpStatus: 503, percentage: { value: 100 } } }'),
    route('/delayed', '{ delay: { fixedDelay: 1ms, percentage: { value: 100 } } }'),
    route('/never', '{ delay: { fixedDelay: 1s }, abort: { httpStatus: 500 } }'),
    route('/grpc', '{ abort: { grpcStatus: UNAVAILABLE, percentage: { value: 100 } } }'),
    route('/late', '{ delay: { fixedDelay: 1ms, percentage: { value: 100 } } }', '\n      timeout: 100ms'),
    route('/hold', '{ delay: { fixedDelay: 3s, percentage: { value: 100 } } }'),
    route('/cors', '{ abort: { httpStatus: 503, percentage: { value: 100 } } }', '\n      corsPolicy: { allowOrigins: [{ exact: "https://shop.example" }], allowMethods: [POST] }'),
  ].join('');
  const config = singleRouteConfig({ port, upstreamPort: app.port, extraRoute: routes.replaceAll('APP_PORT', String(app.port)) });
  await writeConfig(dir, 'app.yaml', config);
  world = { gateway: await startGatewayProcess(['--config', dir, '--no-watch']), port, app };
});

test.after.always(async () => {
  await world?.gateway.stop();
  await world?.app.close();
});

const url = (path: string) => `http://127.0.0.1:${world.port}${path}`;

test('over 2,000 requests the delay hits 25% and the abort 12.5% of them, each within 3 points, independently', async (t) => {
  const count = 2000;
  const statuses = (await sendMany((i) => url(`/odds-${i}`), count, 16)).map((sent) => sent.status);
  const lines = await eventually(() => {
    const found = world.gateway.accessLog.filter((line) => line.includes('"GET /odds-'));
    return found.length === count ? found : undefined;
  }, 15_000);
  const aborted = statuses.filter((s) => s === 418).length;
  const served = statuses.filter((s) => s === 200).length;
  const delayed = lines.filter((line) => / (DI|DI,FI) /.test(line)).length;
  const both = lines.filter((line) => line.includes(' 418 DI,FI fault_filter_abort ')).length;
  t.log(`aborted ${aborted}, delayed ${delayed}, both ${both}, served ${served} of ${count}`);
  t.is(aborted + served, count);
  t.true(Math.abs((aborted / count) * 100 - 12.5) <= 3, `abort rate ${(aborted / count) * 100}%`);
  t.true(Math.abs((delayed / count) * 100 - 25) <= 3, `delay rate ${(delayed / count) * 100}%`);
  // Independent draws: about 25% of the aborted ones were delayed first (a loose bound, n is small).
  t.true(both > 0 && both < aborted, `${both} of ${aborted} aborts were also delayed`);
  t.is(lines.filter((line) => / 418 FI fault_filter_abort /.test(line)).length + both, aborted);
  t.is(world.app.seen.filter((seen) => seen.url.startsWith('/odds-')).length, served, 'aborted requests never reach the upstream');
});

test('a delayed request waits at least fixedDelay (deprecated integer percent: 50)', async (t) => {
  const elapsedById = new Map<string, number>();
  for (let i = 0; i < 24; i++) {
    const id = `sample-${i}-${Date.now()}`;
    const started = performance.now();
    const response = await request(url(`/sample-${i}`), { headers: { 'x-request-id': id } });
    t.is(await response.body.text(), `served /sample-${i}`);
    elapsedById.set(id, performance.now() - started);
  }
  const lines = await eventually(() => {
    const found = world.gateway.accessLog.filter((line) => line.includes('"GET /sample-'));
    return found.length === 24 ? found : undefined;
  });
  const delayedIds = lines.filter((line) => / 200 DI via_upstream /.test(line)).map((line) => /"(sample-[^"]+)"/.exec(line)?.[1]);
  t.log(`${delayedIds.length} of 24 delayed`);
  t.true(delayedIds.length > 0 && delayedIds.length < 24, 'some requests are delayed, some not');
  for (const id of delayedIds) {
    const elapsed = elapsedById.get(id!)!;
    t.true(elapsed >= 150, `${id} took ${elapsed.toFixed(1)} ms, less than the 150 ms delay`);
  }
});

test('delay then abort: Envoy body and flags DI,FI; delay alone: DI via_upstream; no percentage: no fault', async (t) => {
  const both = await request(url('/both'));
  t.is(both.statusCode, 503);
  t.is(both.headers['content-type'], 'text/plain');
  t.is(await both.body.text(), 'fault filter abort');
  t.regex(await accessLogLine(world.gateway, '/both'), /" 503 DI,FI fault_filter_abort - "-" 0 18 /);

  const delayed = await request(url('/delayed'));
  t.is(await delayed.body.text(), 'served /delayed');
  t.regex(await accessLogLine(world.gateway, '/delayed'), /" 200 DI via_upstream /);

  // Current Istio: a fault without a percentage delays and aborts nothing (no DI flag).
  const never = await request(url('/never'));
  t.is(await never.body.text(), 'served /never');
  t.regex(await accessLogLine(world.gateway, '/never'), /" 200 - via_upstream /);
});

test('a grpcStatus abort is a trailers-only gRPC reply to a gRPC request, and a plain 200 to another', async (t) => {
  const grpc = await request(url('/grpc.Health/Check'), {
    method: 'POST',
    headers: { 'content-type': 'application/grpc', te: 'trailers' },
    body: Buffer.from([0, 0, 0, 0, 0]),
  });
  t.is(grpc.statusCode, 200);
  t.is(grpc.headers['content-type'], 'application/grpc');
  t.is(grpc.headers['grpc-status'], '14', 'UNAVAILABLE');
  t.is(grpc.headers['grpc-message'], 'fault filter abort');
  t.is((await grpc.body.arrayBuffer()).byteLength, 0);
  t.regex(await accessLogLine(world.gateway, '/grpc.Health/Check'), /" 200 FI fault_filter_abort /);

  const plain = await request(url('/grpc-plain'));
  t.is(plain.statusCode, 200);
  t.is(plain.headers['grpc-status'], undefined);
  t.is(await plain.body.text(), 'fault filter abort');
});

test("Istio's rule: the route's timeout does not apply when the route has a fault", async (t) => {
  const response = await request(url('/late'));
  t.is(response.statusCode, 200, 'not 504: the 100 ms timeout is off on a route with a fault');
  t.is(await response.body.text(), 'served /late');
  t.regex(await accessLogLine(world.gateway, '/late'), /" 200 DI via_upstream /);
});

test('a client that leaves during the delay is logged DI,DC and never reaches the upstream', async (t) => {
  const controller = new AbortController();
  const pending = request(url('/hold'), { signal: controller.signal });
  setTimeout(() => controller.abort(), 200);
  await t.throwsAsync(pending, { any: true });
  const line = await accessLogLine(world.gateway, '/hold');
  t.regex(line, /" 0 DI,DC downstream_remote_disconnect /);
  t.false(world.app.seen.some((seen) => seen.url === '/hold'));
});

test("Istio's filter order puts the fault before CORS: a preflight to a faulted route is aborted too", async (t) => {
  const preflight = await request(url('/cors'), {
    method: 'OPTIONS',
    headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST' },
  });
  t.is(preflight.statusCode, 503);
  t.is(await preflight.body.text(), 'fault filter abort');
  t.is(preflight.headers['access-control-allow-origin'], undefined);
  t.regex(await accessLogLine(world.gateway, '/cors'), /"OPTIONS \/cors HTTP\/1.1" 503 FI fault_filter_abort /);
});
