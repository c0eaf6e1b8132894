import test from 'ava';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { request as httpsRequest } from 'node:https';
import { freePort } from '../helpers/free-port.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { eventually } from '../helpers/eventually.js';

// The example in gateways/bookinfo.yaml, run by the built binary against real upstreams: only
// its port numbers are swapped for free ones, so this also proves the README's example works.

const examplePath = new URL('../../gateways/bookinfo.yaml', import.meta.url);

interface World {
  gateway: GatewayProcess;
  client: Pool;
  upstreams: Record<'productpage' | 'v1' | 'v2' | 'v3' | 'ratings', TestUpstream>;
  httpsPort: number;
}

let world: World;

test.before(async () => {
  const upstreams = {
    productpage: await startUpstream('productpage'),
    v1: await startUpstream('reviews-v1'),
    v2: await startUpstream('reviews-v2'),
    v3: await startUpstream('reviews-v3'),
    ratings: await startUpstream('ratings'),
  };
  const gatewayPort = await freePort();
  const httpsPort = await freePort();
  const yaml = (await readFile(examplePath, 'utf8'))
    .replaceAll('number: 8080', `number: ${gatewayPort}`)
    .replaceAll('number: 8443', `number: ${httpsPort}`)
    .replaceAll('number: 9080', `number: ${upstreams.productpage.port}`)
    .replace('http: 9081', `http: ${upstreams.v1.port}`)
    .replace('http: 9082', `http: ${upstreams.v2.port}`)
    .replace('http: 9083', `http: ${upstreams.v3.port}`)
    .replace('http: 9084', `http: ${upstreams.ratings.port}`);
  const dir = await mkdtemp(path.join(tmpdir(), 'meshgate-bookinfo-'));
  await writeFile(path.join(dir, 'bookinfo.yaml'), yaml);
  const gateway = await startGatewayProcess(['--config', dir, '--certs', fileURLToPath(new URL('../../certs', import.meta.url)), '--no-watch']);
  world = { gateway, client: new Pool(`http://127.0.0.1:${gatewayPort}`, { connections: 4 }), upstreams, httpsPort };
});

test.after.always(async () => {
  await world?.client.close();
  await world?.gateway.stop();
  await Promise.all(Object.values(world?.upstreams ?? {}).map((u) => u.close()));
});

async function get(pathAndQuery: string, headers: Record<string, string> = {}, method: 'GET' | 'OPTIONS' = 'GET') {
  const res = await world.client.request({ method, path: pathAndQuery, headers: { host: 'bookinfo.example.com', ...headers } });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) as { upstream: string; url: string; headers: Record<string, string> } };
}

test('exact and prefix uri matches reach productpage', async (t) => {
  const page = await get('/productpage');
  t.is(page.status, 200);
  t.is(page.json().upstream, 'productpage');
  const asset = await get('/static/css/site.css');
  t.is(asset.json().upstream, 'productpage');
  t.is(asset.json().url, '/static/css/site.css');
  // exact: /productpage does not match a longer path, and nothing else does either
  t.is((await get('/productpage/extra')).status, 404);
});

test('reviews split 90/10 between v1 and v3 over 2,000 requests, v2 untouched', async (t) => {
  // Tests in a file run concurrently: count only this test's own path.
  const splitPath = '/reviews/split-measure';
  const served = (upstream: TestUpstream) => upstream.seen.filter((r) => r.url === splitPath).length;
  const total = 2000;
  for (let i = 0; i < total; i += 50) {
    await Promise.all(Array.from({ length: 50 }, () => get(splitPath)));
  }
  const v1 = served(world.upstreams.v1);
  const v3 = served(world.upstreams.v3);
  t.log(`v1 ${v1} (${((100 * v1) / total).toFixed(1)}%), v3 ${v3} (${((100 * v3) / total).toFixed(1)}%)`);
  t.is(v1 + v3, total);
  t.is(served(world.upstreams.v2), 0);
  t.true(Math.abs((100 * v1) / total - 90) <= 3, `v1 share ${(100 * v1) / total}% is not within 90±3`);
});

test('a header match sends jason to reviews v2', async (t) => {
  const res = await get('/reviews/1', { 'end-user': 'jason' });
  t.is(res.json().upstream, 'reviews-v2');
  const other = await get('/reviews/1', { 'end-user': 'mary' });
  t.not(other.json().upstream, 'reviews-v2');
});

test('route-level response headers are set', async (t) => {
  const res = await get('/reviews/2');
  t.is(res.headers['x-bookinfo-route'], 'reviews-canary');
});

test('a regex route matches the whole path and rewrites it', async (t) => {
  const res = await get('/ratings/42');
  t.is(res.json().upstream, 'ratings');
  t.is(res.json().url, '/ratings');
  t.is((await get('/ratings/42x')).status, 404);
});

test('a redirect answers 301 with the new location', async (t) => {
  const res = await get('/books');
  t.is(res.status, 301);
  t.regex(String(res.headers.location), /^http:\/\/bookinfo\.example\.com(:\d+)?\/productpage$/);
});

test('a direct response is answered by the gateway itself', async (t) => {
  const res = await get('/healthz');
  t.is(res.status, 200);
  t.is(res.text, 'ok\n');
});

test('a CORS preflight from an allowed origin is answered; others get no CORS headers', async (t) => {
  const allowed = await get('/productpage', { origin: 'https://bookinfo.example.com', 'access-control-request-method': 'POST' }, 'OPTIONS');
  t.is(allowed.status, 200);
  t.is(allowed.headers['access-control-allow-origin'], 'https://bookinfo.example.com');
  t.regex(String(allowed.headers['access-control-allow-methods']), /POST/);
  t.is(allowed.headers['access-control-max-age'], '86400');

  const other = await get('/productpage', { origin: 'https://evil.example' });
  t.is(other.status, 200);
  t.is(other.headers['access-control-allow-origin'], undefined);
});

test('the upstream sees forwarding headers and a request id of its own for each request', async (t) => {
  const res = await get('/productpage', { 'x-forwarded-for': '203.0.113.7' });
  const headers = res.json().headers;
  t.is(headers['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
  t.is(headers['x-forwarded-proto'], 'http');
  t.regex(headers['x-request-id'] ?? '', /^[0-9a-f-]{36}$/);
  t.is(headers.host, 'bookinfo.example.com');
  t.not((await get('/productpage')).json().headers['x-request-id'], headers['x-request-id']);
});

test('with no tracing provider the gateway takes no part in a trace: the client\'s trace headers arrive as sent', async (t) => {
  const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const headers = (await get('/productpage', { traceparent, 'x-b3-traceid': 'a3ce929d0e0e4736', 'x-b3-spanid': '00f067aa0ba902b7' })).json().headers;
  t.is(headers.traceparent, traceparent);
  t.is(headers['x-b3-spanid'], '00f067aa0ba902b7');
  t.is(headers['x-b3-parentspanid'], undefined);
});

test('no matching route is 404 with response flag NR in the access log', async (t) => {
  const res = await get('/nowhere-at-all');
  t.is(res.status, 404);
  const line = await eventually(() => world.gateway.accessLog.find((l) => l.includes('/nowhere-at-all')));
  t.regex(line, /" 404 NR route_not_found /);
});

test('the HTTPS server serves the EXAMPLE certificate of certs/example.com and the same routes', async (t) => {
  const exampleCert = await readFile(new URL('../../certs/example.com/tls.crt', import.meta.url), 'utf8');
  const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port: world.httpsPort, servername: 'bookinfo.example.com', path: '/productpage', headers: { host: 'bookinfo.example.com' }, ca: exampleCert, agent: false },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      },
    );
    req.on('error', reject);
    req.end();
  });
  t.is(status, 200);
  const seen = JSON.parse(body) as { upstream: string; headers: Record<string, string> };
  t.is(seen.upstream, 'productpage');
  t.is(seen.headers['x-forwarded-proto'], 'https');
});
