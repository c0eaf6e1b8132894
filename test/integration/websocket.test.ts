import test from 'ava';
import { randomBytes } from 'node:crypto';
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket } from 'undici';
import { freePort } from '../helpers/free-port.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { accessLogLine } from '../helpers/access-log-line.js';
import { configDir, gatewayYaml, writeConfig } from '../helpers/config-files.js';
import { acceptAndEcho, closeFrame } from '../helpers/websocket-echo.js';

// WebSockets through the built gateway: a real undici WebSocket client, the gateway process and
// an echo upstream. Messages cross both ways; a close from either end reaches the other.

interface UpstreamConnection {
  readonly headers: IncomingHttpHeaders;
  /** Resolves when the upstream's socket has closed. */
  readonly closed: Promise<void>;
}

interface World {
  gateway: GatewayProcess;
  port: number;
  upstream: http.Server;
  /** Upstream connections by the path they upgraded. */
  connections: Map<string, UpstreamConnection>;
}

let world: World;

test.before(async () => {
  const connections = new Map<string, UpstreamConnection>();
  const upstream = http.createServer((_req, res) => res.end('not an upgrade'));
  upstream.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const seen: { headers?: IncomingHttpHeaders } = {};
    acceptAndEcho(req, socket, seen);
    connections.set(req.url ?? '', { headers: seen.headers ?? {}, closed });
    // The upstream ends this one itself, with a status code of its own.
    if (req.url === '/chat/upstream-closes') socket.end(closeFrame(4001));
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const upstreamPort = (upstream.address() as AddressInfo).port;

  const port = await freePort();
  const dir = await configDir('websocket');
  await writeConfig(dir, 'chat.yaml', `${gatewayYaml(port)}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: chat
spec:
  hosts: ["*"]
  gateways: [edge]
  http:
    - match: [{ uri: { prefix: /chat } }]
      route:
        - destination: { host: chat.internal, port: { number: ${upstreamPort} } }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: chat
spec:
  hosts: [chat.internal]
  resolution: STATIC
  ports:
    - { number: ${upstreamPort}, name: http, protocol: HTTP }
  endpoints:
    - address: 127.0.0.1
`);
  const gateway = await startGatewayProcess(['--config', dir, '--no-watch']);
  world = { gateway, port, upstream, connections };
});

test.after.always(async () => {
  await world?.gateway.stop();
  world?.upstream.closeAllConnections();
  await new Promise((resolve) => world?.upstream.close(resolve) ?? resolve(undefined));
});

function open(path: string): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${world.port}${path}`);
  ws.binaryType = 'arraybuffer';
  return new Promise((resolve, reject) => {
    ws.addEventListener('open', () => resolve(ws), { once: true });
    ws.addEventListener('error', () => reject(new Error(`websocket to ${path} failed`)), { once: true });
  });
}

function nextMessage(ws: WebSocket): Promise<string | Buffer> {
  return new Promise((resolve) => {
    ws.addEventListener(
      'message',
      (event) => resolve(typeof event.data === 'string' ? event.data : Buffer.from(event.data as ArrayBuffer)),
      { once: true },
    );
  });
}

function closeEvent(ws: WebSocket): Promise<{ code: number; wasClean: boolean }> {
  return new Promise((resolve) => {
    ws.addEventListener('close', (event) => resolve({ code: event.code, wasClean: event.wasClean }), { once: true });
  });
}

test('text and binary messages echo through the gateway; the client\'s close reaches the upstream', async (t) => {
  const ws = await open('/chat/echo');
  const upstream = world.connections.get('/chat/echo');
  t.is(upstream?.headers.upgrade, 'websocket');
  t.is(upstream?.headers['x-forwarded-proto'], 'http');
  t.truthy(upstream?.headers['x-request-id']);

  const text = nextMessage(ws);
  ws.send('hello through the gateway');
  t.is(await text, 'hello through the gateway');

  // Over 125 bytes: a frame with an extended length.
  const payload = randomBytes(3000);
  const binary = nextMessage(ws);
  ws.send(payload);
  t.deepEqual(await binary, payload);

  const closed = closeEvent(ws);
  ws.close(1000, 'done');
  // The upstream echoes the close frame and ends: both ends closed cleanly with the client's code.
  t.deepEqual(await closed, { code: 1000, wasClean: true });
  await upstream?.closed;
});

test('the upstream\'s close reaches the client with its status code', async (t) => {
  const ws = await open('/chat/upstream-closes');
  const { code } = await closeEvent(ws);
  t.is(code, 4001);
  await world.connections.get('/chat/upstream-closes')?.closed;
  const line = await accessLogLine(world.gateway, '/chat/upstream-closes');
  t.regex(line, /" 101 - via_upstream /);
});

test('an upgrade to a path with no route gets 404, flag NR', async (t) => {
  const answer = await new Promise<{ status?: number }>((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port: world.port,
      path: '/nowhere',
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': randomBytes(16).toString('base64'), 'sec-websocket-version': '13' },
    });
    req.on('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode });
    });
    req.on('upgrade', () => reject(new Error('upgraded a path with no route')));
    req.on('error', reject);
    req.end();
  });
  t.is(answer.status, 404);
  t.false(world.connections.has('/nowhere'));
  t.regex(await accessLogLine(world.gateway, '/nowhere'), /" 404 NR /);
  // undici's client sees the refusal as a failed handshake.
  await t.throwsAsync(open('/nowhere-either'), { message: /failed/ });
});
