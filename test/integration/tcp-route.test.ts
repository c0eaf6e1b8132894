import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { freePort } from '../helpers/free-port.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { configDir, gatewayWithServersYaml, loopbackServiceEntryYaml, writeConfig } from '../helpers/config-files.js';
import { eventually } from '../helpers/eventually.js';

// TCP routes end to end: a Gateway TCP server and VirtualService tcp[] routes relay bytes both
// ways through the built gateway, half-close included; a refused upstream closes the client and
// is logged UF; a reload keeps open relays and sends new connections along the new route.

interface EchoServer {
  readonly port: number;
  readonly server: Server;
  /** The upstream side of every relay open now. */
  readonly sockets: Set<Socket>;
}

/** Echoes every byte prefixed once with `name:`, and answers a half-close with `bye from name` before its own FIN. */
async function startEcho(name: string): Promise<EchoServer> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.write(`${name}:`);
    socket.pipe(socket, { end: false });
    socket.once('end', () => socket.end(`bye from ${name}`));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, server, sockets };
}

function config({ port, refusedPort, deadPort, idlePort, limitedPort }: typeof ports, destination: string): string {
  return `${gatewayWithServersYaml(`    - port: { number: ${port}, name: tcp, protocol: TCP }
      hosts: ["*"]
    - port: { number: ${refusedPort}, name: tcp-refused, protocol: TCP }
      hosts: ["*"]
    - port: { number: ${idlePort}, name: tcp-idle, protocol: TCP }
      hosts: ["*"]
    - port: { number: ${limitedPort}, name: tcp-limited, protocol: TCP }
      hosts: ["*"]
`)}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: tcp
spec:
  hosts: ["*"]
  gateways: [edge]
  tcp:
    - match: [{ port: ${refusedPort} }]
      route: [{ destination: { host: dead.internal } }]
    - match: [{ port: ${idlePort} }]
      route: [{ destination: { host: idle.internal } }]
    - match: [{ port: ${limitedPort} }]
      route: [{ destination: { host: limited.internal } }]
    - route: [{ destination: { host: ${destination}.internal } }]
${loopbackServiceEntryYaml('one', echoes.one.port)}${loopbackServiceEntryYaml('two', echoes.two.port)}${loopbackServiceEntryYaml('dead', deadPort)}${loopbackServiceEntryYaml('idle', echoes.one.port)}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: idle
spec:
  host: idle.internal
  trafficPolicy:
    connectionPool:
      tcp: { idleTimeout: 300ms }
${loopbackServiceEntryYaml('limited', echoes.two.port)}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: limited
spec:
  host: limited.internal
  trafficPolicy:
    connectionPool:
      tcp: { maxConnections: 1 }
`;
}

let echoes: { one: EchoServer; two: EchoServer };
let gateway: GatewayProcess;
let dir: string;
let ports: { port: number; refusedPort: number; deadPort: number; idlePort: number; limitedPort: number };

test.before(async () => {
  echoes = { one: await startEcho('one'), two: await startEcho('two') };
  ports = { port: await freePort(), refusedPort: await freePort(), deadPort: await freePort(), idlePort: await freePort(), limitedPort: await freePort() };
  dir = await configDir('tcp-route');
  await writeConfig(dir, 'edge.yaml', config(ports, 'one'));
  gateway = await startGatewayProcess(['--config', dir]);
});

test.after.always(async () => {
  await gateway?.stop();
  echoes?.one.server.close();
  echoes?.two.server.close();
});

/** A client that collects what it receives; `ended` resolves with it all once the other side's FIN arrives. */
function client(port: number): { socket: Socket; received: () => Buffer; ended: Promise<Buffer>; closed: Promise<void> } {
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => undefined);
  const ended = new Promise<Buffer>((resolve) => socket.once('end', () => resolve(Buffer.concat(chunks))));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, received: () => Buffer.concat(chunks), ended, closed };
}

test.serial('a TCP route relays bytes both ways, and a half-close passes through with the way back still open', async (t) => {
  const c = client(ports.port);
  c.socket.write('hello');
  await eventually(() => (c.received().toString() === 'one:hello' ? true : undefined));
  c.socket.end();
  // The upstream saw our FIN and still wrote back before sending its own.
  t.is((await c.ended).toString(), 'one:hellobye from one');
  await c.closed;
  const line = await eventually(() => gateway.accessLog.find((l) => l.includes(`"127.0.0.1:${echoes.one.port}"`)));
  t.regex(line, /^\[[^\]]+\] "- - -" 0 - - - "-" 5 21 \d+ - /, `bytes received 5, sent 21: ${line}`);
});

test.serial('a payload of several MB arrives intact both ways', async (t) => {
  const payload = randomBytes(8 * 1024 * 1024);
  const c = client(ports.port);
  c.socket.end(payload);
  const received = await c.ended;
  const expected = Buffer.concat([Buffer.from('one:'), payload, Buffer.from('bye from one')]);
  t.is(received.length, expected.length);
  t.is(createHash('sha256').update(received).digest('hex'), createHash('sha256').update(expected).digest('hex'));
});

test.serial('a refused upstream closes the client connection and is logged UF; the gateway serves on', async (t) => {
  const c = client(ports.refusedPort);
  t.is((await c.ended).length, 0, 'the gateway ends the connection without a byte');
  c.socket.destroy();
  const line = await eventually(() => gateway.accessLog.find((l) => l.includes(`"127.0.0.1:${ports.deadPort}"`)));
  t.regex(line, / 0 UF - - "ECONNREFUSED" /, line);
  t.true(line.includes(`outbound|${ports.deadPort}||dead.internal`), line);
  const again = client(ports.port);
  again.socket.end('still');
  t.is((await again.ended).toString(), 'one:stillbye from one');
});

test.serial('a reset on either side closes the other', async (t) => {
  const byClient = client(ports.port);
  byClient.socket.write('x');
  await eventually(() => (byClient.received().toString() === 'one:x' ? true : undefined));
  // The earlier tests' upstream sockets close on their own; then this relay's is the only one.
  t.true(await eventually(() => (echoes.one.sockets.size === 1 ? true : undefined)));
  byClient.socket.resetAndDestroy();
  await eventually(() => (echoes.one.sockets.size === 0 ? true : undefined));

  const byUpstream = client(ports.port);
  byUpstream.socket.write('y');
  await eventually(() => (byUpstream.received().toString() === 'one:y' ? true : undefined));
  [...echoes.one.sockets][0]!.resetAndDestroy();
  t.is((await byUpstream.ended).toString(), 'one:y', 'the client is ended when its upstream resets');
  byUpstream.socket.destroy();
});

test.serial('DestinationRule connectionPool.tcp.idleTimeout closes a relay with no traffic either way', async (t) => {
  const c = client(ports.idlePort);
  // The last traffic is no earlier than this write, so the close comes at least 300 ms after it.
  const sentAt = Date.now();
  c.socket.write('x');
  await eventually(() => (c.received().toString() === 'one:x' ? true : undefined));
  t.is((await c.ended).toString(), 'one:x');
  const elapsed = Date.now() - sentAt;
  // 300ms configured; the upper bound is wide for a loaded machine.
  t.true(elapsed >= 295 && elapsed < 10_000, `closed ${elapsed} ms after the last write`);
  c.socket.destroy();
});

test.serial('DestinationRule connectionPool.tcp.maxConnections: a relay over the limit is closed and logged UO', async (t) => {
  const held = client(ports.limitedPort);
  held.socket.write('a');
  await eventually(() => (held.received().toString() === 'two:a' ? true : undefined));
  const over = client(ports.limitedPort);
  t.is((await over.ended).length, 0, 'the second connection is ended without a byte');
  over.socket.destroy();
  const line = await eventually(() => gateway.accessLog.find((l) => l.includes(' 0 UO ') && l.includes('outbound|') && l.includes('limited.internal')));
  t.true(line.includes(`outbound|${echoes.two.port}||limited.internal`), line);
  held.socket.end();
  await held.ended;
  held.socket.destroy();
  // Once the first relay is over (its log line is written after it counts down), the next one is accepted.
  await eventually(() => gateway.accessLog.find((l) => l.includes('limited.internal') && l.includes(' 0 - ')));
  const next = client(ports.limitedPort);
  next.socket.end('b');
  t.is((await next.ended).toString(), 'two:bbye from two');
});

test.serial('a reload keeps an open relay and sends new connections along the new route', async (t) => {
  const open = client(ports.port);
  open.socket.write('before');
  await eventually(() => (open.received().toString() === 'one:before' ? true : undefined));

  await writeConfig(dir, 'edge.yaml', config(ports, 'two'));
  await gateway.waitForLog((l) => l.msg === 'config reloaded');

  const fresh = client(ports.port);
  fresh.socket.end('new');
  t.is((await fresh.ended).toString(), 'two:newbye from two', 'a new connection takes the new route');

  open.socket.write('-after');
  await eventually(() => (open.received().toString() === 'one:before-after' ? true : undefined));
  open.socket.end();
  t.is((await open.ended).toString(), 'one:before-afterbye from one', 'the open relay kept its upstream across the reload');
});
