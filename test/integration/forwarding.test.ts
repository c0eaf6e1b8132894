import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { freePort } from '../helpers/free-port.js';
import { startUpstream, type TestUpstream, type UpstreamHandler } from '../helpers/upstream.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { accessLogLine } from '../helpers/access-log-line.js';
import { configDir, singleRouteConfig, writeConfig } from '../helpers/config-files.js';

// The bytes of a request and its response through the built gateway: large and chunked bodies,
// bodiless responses, trailers, hop-by-hop headers, the local replies for upstreams that cannot
// be reached, DNS destinations and requests node's parser refuses.

const mebibyte = 1024 * 1024;
const download = randomBytes(mebibyte);

interface World {
  gateway: GatewayProcess;
  port: number;
  app: TestUpstream;
}

let world: World;

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** Answers by path; every other path echoes what it received (the helper's default). */
const app: UpstreamHandler = (req, res, name) => {
  const path = req.url ?? '/';
  if (path.startsWith('/upload')) {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
      firstBytesSeen.get(path)?.();
    });
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ sha256: hash.digest('hex'), bytes, headers: req.headers }));
    });
  } else if (path === '/download') {
    // Written in pieces with no content-length: the gateway relays it chunked as it comes.
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-download-sha256': sha256(download) });
    for (let offset = 0; offset < download.length; offset += 64 * 1024) res.write(download.subarray(offset, offset + 64 * 1024));
    res.end();
  } else if (path === '/head') {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5', 'x-head': 'yes' });
    res.end(req.method === 'HEAD' ? undefined : 'hello');
  } else if (path === '/no-content') {
    res.writeHead(204, { 'x-no-content': 'yes' });
    res.end();
  } else if (path === '/trailers') {
    res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
    res.write('body with a trailer');
    res.addTrailers({ 'x-checksum': sha256(Buffer.from('body with a trailer')) });
    res.end();
  } else if (path === '/hop-by-hop-response') {
    // An upstream naming its own connection-scoped header: it must not reach the client.
    res.writeHead(200, { connection: 'x-upstream-secret', 'x-upstream-secret': 'hidden', 'keep-alive': 'timeout=99', 'x-kept': 'yes' });
    res.end('ok');
  } else {
    res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': name });
    res.end(JSON.stringify({ upstream: name, method: req.method, url: req.url, headers: req.headers }));
  }
};

/** Upload paths whose first body bytes the test waits for before sending the rest. */
const firstBytesSeen = new Map<string, () => void>();

test.before(async () => {
  const upstream = await startUpstream('app', app);
  const port = await freePort();
  // A port nobody listens on: connecting to it is refused.
  const refusedPort = await freePort();
  const extraRoute = `
    - match: [{ uri: { prefix: /refused } }]
      route:
        - destination: { host: refused.internal, port: { number: ${refusedPort} } }
    - match: [{ uri: { prefix: /ghost-subset } }]
      route:
        - destination: { host: app.internal, subset: ghost, port: { number: ${upstream.port} } }
    - match: [{ uri: { prefix: /dns-short-name } }]
      route:
        - destination: { host: localhost, port: { number: ${upstream.port} } }
    - match: [{ uri: { prefix: /dns-service-entry } }]
      route:
        - destination: { host: by-dns.internal, port: { number: ${upstream.port} } }`;
  const yaml = `${singleRouteConfig({ port, upstreamPort: upstream.port, extraRoute })}---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: refused
spec:
  hosts: [refused.internal]
  resolution: STATIC
  ports:
    - { number: ${refusedPort}, name: http, protocol: HTTP }
  endpoints:
    - address: 127.0.0.1
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: by-dns
spec:
  hosts: [by-dns.internal]
  resolution: DNS
  ports:
    - { number: ${upstream.port}, name: http, protocol: HTTP }
  endpoints:
    - address: localhost
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: app
spec:
  host: app.internal
  subsets:
    - name: ghost
      labels: { version: ghost }
`;
  const dir = await configDir('forwarding');
  await writeConfig(dir, 'app.yaml', yaml);
  const gateway = await startGatewayProcess(['--config', dir, '--no-watch']);
  world = { gateway, port, app: upstream };
});

test.after.always(async () => {
  await world?.gateway.stop();
  await world?.app.close();
});

const url = (path: string) => `http://127.0.0.1:${world.port}${path}`;

test('a 1 MiB request body with content-length reaches the upstream intact', async (t) => {
  const body = randomBytes(mebibyte);
  const res = await request(url('/upload/fixed'), { method: 'POST', body });
  const seen = (await res.body.json()) as { sha256: string; bytes: number; headers: Record<string, string> };
  t.is(res.statusCode, 200);
  t.is(seen.bytes, mebibyte);
  t.is(seen.sha256, sha256(body));
  t.is(seen.headers['content-length'], String(mebibyte));
});

test('a chunked request body streams through: the upstream reads it before the client has sent it all', async (t) => {
  const path = '/upload/streamed';
  const firstChunk = randomBytes(64 * 1024);
  const rest = randomBytes(mebibyte - firstChunk.length);
  const upstreamHasFirstChunk = new Promise<void>((resolve) => firstBytesSeen.set(path, resolve));
  // The rest is held back until the upstream has bytes: a gateway that buffered whole bodies
  // would wait for the end of a body that never comes, and the request would time out.
  async function* body() {
    yield firstChunk;
    await upstreamHasFirstChunk;
    for (let offset = 0; offset < rest.length; offset += 100_000) yield rest.subarray(offset, offset + 100_000);
  }
  const res = await request(url(path), { method: 'PUT', body: Readable.from(body()) });
  const seen = (await res.body.json()) as { sha256: string; bytes: number; headers: Record<string, string> };
  t.is(res.statusCode, 200);
  t.is(seen.bytes, mebibyte);
  t.is(seen.sha256, sha256(Buffer.concat([firstChunk, rest])));
  t.is(seen.headers['transfer-encoding'], 'chunked');
  t.is(seen.headers['content-length'], undefined);
});

test('a 1 MiB response streams back intact', async (t) => {
  const res = await request(url('/download'));
  const received = Buffer.from(await res.body.arrayBuffer());
  t.is(res.statusCode, 200);
  t.is(received.length, mebibyte);
  // Hashed where it was sent and where it arrived.
  t.is(res.headers['x-download-sha256'], sha256(download));
  t.is(sha256(received), sha256(download));
  t.is(res.headers['transfer-encoding'], 'chunked');
});

test('HEAD gets the headers of GET and no body', async (t) => {
  const res = await request(url('/head'), { method: 'HEAD' });
  t.is(res.statusCode, 200);
  t.is(res.headers['content-length'], '5');
  t.is(res.headers['x-head'], 'yes');
  t.is(await res.body.text(), '');
  t.is(world.app.seen.find((r) => r.url === '/head')?.method, 'HEAD');
  // The connection is still good for the next request: no body bytes were left on it.
  const next = await request(url('/head'));
  t.is(await next.body.text(), 'hello');
});

test('a 204 arrives without a body', async (t) => {
  const res = await request(url('/no-content'));
  t.is(res.statusCode, 204);
  t.is(res.headers['x-no-content'], 'yes');
  t.is(res.headers['content-length'], undefined);
  t.is(res.headers['transfer-encoding'], undefined);
  t.is(await res.body.text(), '');
});

test('response trailers are relayed', async (t) => {
  const res = await request(url('/trailers'));
  t.is(await res.body.text(), 'body with a trailer');
  t.is(res.trailers['x-checksum'], sha256(Buffer.from('body with a trailer')));
});

test('hop-by-hop request headers, and those Connection names, do not reach the upstream', async (t) => {
  const path = '/hop-by-hop-request';
  const response = await rawExchange(
    `GET ${path} HTTP/1.1\r\nHost: hop.example\r\nConnection: close, x-secret\r\nX-Secret: hidden\r\n` +
      'Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nX-Kept: yes\r\n\r\n',
  );
  t.regex(response.head, /^HTTP\/1\.1 200 /);
  const seen = world.app.seen.find((r) => r.url === path);
  t.is(seen?.headers['x-kept'], 'yes');
  t.is(seen?.headers['x-secret'], undefined);
  t.is(seen?.headers['keep-alive'], undefined);
  t.is(seen?.headers['proxy-connection'], undefined);
  // The upstream connection is the gateway's own, pooled: the client's close is not passed on.
  t.not(seen?.headers.connection, 'close');
});

test('a client that asks to close is told close, never keep-alive, and the connection ends', async (t) => {
  // rawExchange resolves only when the gateway closes the connection.
  const response = await rawExchange(`GET /close-me HTTP/1.1\r\nHost: close.example\r\nConnection: close\r\n\r\n`);
  t.regex(response.head, /^HTTP\/1\.1 200 /);
  t.regex(response.head, /\r\nconnection: close\r\n/i);
  t.notRegex(response.head, /keep-alive/i);
});

test('hop-by-hop response headers, and those the upstream\'s Connection names, do not reach the client', async (t) => {
  const res = await request(url('/hop-by-hop-response'));
  t.is(await res.body.text(), 'ok');
  t.is(res.headers['x-kept'], 'yes');
  t.is(res.headers['x-upstream-secret'], undefined);
  t.not(res.headers['keep-alive'], 'timeout=99');
});

test('an endpoint that refuses connections: 503 UF, and URX once Istio\'s default two retries are spent', async (t) => {
  const res = await request(url('/refused/one'));
  const body = await res.body.text();
  t.is(res.statusCode, 503);
  t.is(body, 'upstream connect error or disconnect/reset before headers. reset reason: connection failure');
  const line = await accessLogLine(world.gateway, '/refused/one');
  t.regex(line, /" 503 UF,URX upstream_reset_before_response_started\{connection_failure\} /);
  t.regex(line, /outbound\|\d+\|\|refused\.internal /);
});

test('a subset that selects no endpoint: 503 UH, in the response and the access log', async (t) => {
  const res = await request(url('/ghost-subset/one'));
  t.is(res.statusCode, 503);
  t.is(await res.body.text(), 'no healthy upstream');
  const line = await accessLogLine(world.gateway, '/ghost-subset/one');
  t.regex(line, /" 503 UH no_healthy_upstream /);
  t.regex(line, /outbound\|\d+\|ghost\|app\.internal /);
  t.false(world.app.seen.some((r) => r.url === '/ghost-subset/one'));
});

test('a ServiceEntry with resolution DNS resolves its endpoint name', async (t) => {
  const res = await request(url('/dns-service-entry/one'));
  const seen = (await res.body.json()) as { url: string };
  t.is(res.statusCode, 200);
  t.is(seen.url, '/dns-service-entry/one');
  t.regex(await accessLogLine(world.gateway, '/dns-service-entry/one'), /outbound\|\d+\|\|by-dns\.internal /);
});

test('a short destination name is a Kubernetes name in its namespace, as Istio reads it, not a host of its own', async (t) => {
  // Istio's ResolveShortnameToFQDN: `localhost` in namespace default is localhost.default.svc.cluster.local.
  const res = await request(url('/dns-short-name/one'));
  t.is(res.statusCode, 503);
  await res.body.text();
  t.regex(await accessLogLine(world.gateway, '/dns-short-name/one'), /" 503 UH .* outbound\|\d+\|\|localhost\.default\.svc\.cluster\.local /);
  const warning = await world.gateway.waitForLog((l) => l.msg === 'dns resolution failed; keeping the last answer');
  t.is(warning.hostname, 'localhost.default.svc.cluster.local');
});

test('a malformed request gets 400 with no stack trace, and the gateway keeps serving', async (t) => {
  const response = await rawExchange('GET / HTTP/1.1\r\nHost: x\r\nbad header\r\n\r\n');
  t.regex(response.head, /^HTTP\/1\.1 400 Bad Request\r\n/);
  t.is(response.body, '');
  t.notRegex(response.head + response.body, /\bat \S+:\d+|Error|node:/);
  t.false(world.gateway.logs.some((l) => l.level === 'error'), 'no error logged for a client mistake');

  const next = await request(url('/after-malformed'));
  t.is(next.statusCode, 200);
  t.is(((await next.body.json()) as { url: string }).url, '/after-malformed');
});

test('a chunked body that breaks off with a malformed chunk: 400, and an access log line that still names both addresses', async (t) => {
  const path = '/upload/bad-chunk';
  const response = await rawExchange(`POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n`);
  t.regex(response.head, /^HTTP\/1\.1 400 Bad Request\r\n/);
  // The socket is gone by the time the line is written; the addresses were known before.
  const line = await accessLogLine(world.gateway, path);
  t.notRegex(line, /undefined/);
  t.regex(line, new RegExp(` 127\\.0\\.0\\.1:${world.port} 127\\.0\\.0\\.1:\\d+ - `));
});

/** Writes raw bytes on a fresh connection; resolves only once the server has closed it. */
function rawExchange(bytes: string): Promise<{ head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(world.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    // The server must close: a response that keeps the connection open fails here, not hangs.
    socket.setTimeout(10_000, () => socket.destroy(new Error('the gateway did not close the connection')));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      resolve({ head: text.slice(0, split + 2), body: text.slice(split + 4) });
      socket.end();
    });
    socket.write(bytes);
  });
}
