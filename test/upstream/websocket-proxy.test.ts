import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import test, { type ExecutionContext } from 'ava';
import { Pool, WebSocket } from 'undici';
import type { ForwardOutcome } from '../../src/upstream/local-reply.js';
import { buildUpstreamRequestHeaders } from '../../src/upstream/request-headers.js';
import { proxyWebSocket } from '../../src/upstream/websocket-proxy.js';
import { acceptAndEcho } from '../helpers/websocket-echo.js';
import { freePort } from '../helpers/free-port.js';

async function listen(t: ExecutionContext, server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

async function startGateway(t: ExecutionContext, upstreamPort: number) {
  const pool = new Pool(`http://127.0.0.1:${upstreamPort}`);
  t.teardown(() => pool.destroy());
  const outcomes: Promise<ForwardOutcome>[] = [];
  const server = http.createServer((_req, res) => res.end());
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const headers = buildUpstreamRequestHeaders(req.headers, {
      remoteAddress: req.socket.remoteAddress,
      scheme: 'http',
      authority: req.headers.host ?? '',
    });
    outcomes.push(proxyWebSocket({ req, socket, head, dispatcher: pool, path: req.url ?? '/', headers }));
  });
  const port = await listen(t, server);
  return { port, outcomes };
}

function rawUpgrade(port: number): Promise<{ status?: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      port,
      host: '127.0.0.1',
      path: '/chat',
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' },
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (part: string) => (body += part));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('upgrade', () => reject(new Error('unexpected upgrade')));
    req.on('error', reject);
    req.end();
  });
}

test('a WebSocket echo through the proxy: 101 relayed, messages both ways, close closes both', async (t) => {
  const seen: { headers?: http.IncomingHttpHeaders } = {};
  const upstream = http.createServer();
  upstream.on('upgrade', (req: IncomingMessage, socket: Duplex) => acceptAndEcho(req, socket, seen));
  const gateway = await startGateway(t, await listen(t, upstream));

  const ws = new WebSocket(`ws://127.0.0.1:${gateway.port}/chat`);
  const replies: string[] = [];
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => {
      ws.send('hello');
      ws.send('world');
    });
    ws.addEventListener('message', (event) => {
      replies.push(String(event.data));
      if (replies.length === 2) ws.close(1000, 'done');
    });
    ws.addEventListener('close', () => resolve());
    ws.addEventListener('error', () => reject(new Error('websocket error')));
  });

  t.deepEqual(replies, ['hello', 'world']);
  t.is(seen.headers?.upgrade, 'websocket');
  t.is(seen.headers?.['x-forwarded-proto'], 'http');
  t.truthy(seen.headers?.['sec-websocket-key']);
  const outcome = await gateway.outcomes[0]!;
  t.is(outcome.status, 101);
  t.is(outcome.flag, undefined);
  t.true(outcome.bytesReceived > 0 && outcome.bytesSent > 0);
});

test('an upstream that refuses the upgrade: its answer reaches the client as it is', async (t) => {
  const upstream = http.createServer();
  upstream.on('upgrade', (_req: IncomingMessage, socket: Duplex) => {
    socket.end('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 9\r\n\r\nforbidden');
  });
  const gateway = await startGateway(t, await listen(t, upstream));
  const answer = await rawUpgrade(gateway.port);
  t.is(answer.status, 403);
  t.is(answer.body, 'forbidden');
  t.is(answer.headers['content-type'], 'text/plain');
  t.is((await gateway.outcomes[0]!).status, 403);
});

test('an upstream that cannot be reached: 503 UF before any upgrade', async (t) => {
  // Nothing listens there, and no other test's listen(0) can take it meanwhile.
  const closedPort = await freePort();
  const gateway = await startGateway(t, closedPort);
  const answer = await rawUpgrade(gateway.port);
  t.is(answer.status, 503);
  t.is(answer.body, 'upstream connect error or disconnect/reset before headers. reset reason: connection failure');
  const outcome = await gateway.outcomes[0]!;
  t.is(outcome.flag, 'UF');
  t.is(outcome.status, 503);
});

test('the upstream closing the socket closes the client\'s', async (t) => {
  const upstream = http.createServer();
  upstream.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    acceptAndEcho(req, socket, {});
    setTimeout(() => socket.destroy(), 50);
  });
  const gateway = await startGateway(t, await listen(t, upstream));
  const ws = new WebSocket(`ws://127.0.0.1:${gateway.port}/chat`);
  const closed = await new Promise<boolean>((resolve) => {
    ws.addEventListener('close', (event) => resolve(!event.wasClean));
    ws.addEventListener('error', () => undefined);
  });
  t.true(closed, 'the client saw the connection drop');
  t.is((await gateway.outcomes[0]!).status, 101);
});
