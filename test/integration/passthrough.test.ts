import test from 'ava';
import { execFile } from 'node:child_process';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { connect as tlsConnect, createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { freePort } from '../helpers/free-port.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { configDir, gatewayWithServersYaml, loopbackServiceEntryYaml, writeConfig } from '../helpers/config-files.js';
import { eventually } from '../helpers/eventually.js';
import { requireTool } from '../helpers/require-tool.js';
import { selfSignedCertificate, type TestCertificate } from '../helpers/self-signed-cert.js';

// TLS passthrough end to end: the gateway reads the SNI of each ClientHello and relays the
// encrypted stream untouched to the TLS upstream its VirtualService tls[] routes name, so the
// client completes its handshake with the upstream and sees the upstream's certificate.

interface TlsUpstream {
  readonly name: string;
  readonly port: number;
  readonly certificate: TestCertificate;
  readonly server: TlsServer;
}

/** A TLS server with its own certificate that greets each client with its name. */
async function startTlsUpstream(name: string, host: string, commonName = host): Promise<TlsUpstream> {
  const certificate = selfSignedCertificate(commonName, [host]);
  const server = createTlsServer({ ...certificate }, (socket) => {
    socket.on('error', () => undefined);
    socket.end(`hello from ${name}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { name, port: (server.address() as AddressInfo).port, certificate, server };
}

function config(port: number, a: TlsUpstream, b: TlsUpstream, weighted: TlsUpstream[]): string {
  const entry = (name: string, upstream: TlsUpstream) => loopbackServiceEntryYaml(name, upstream.port, 'TLS');
  return `${gatewayWithServersYaml(`    - port: { number: ${port}, name: tls, protocol: TLS }
      hosts: [a.example.com, b.example.com, "*.canary.example.com"]
      tls: { mode: PASSTHROUGH }
`)}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: passthrough
spec:
  hosts: [a.example.com, b.example.com, "*.canary.example.com"]
  gateways: [edge]
  tls:
    - match: [{ sniHosts: [a.example.com] }]
      route: [{ destination: { host: a.internal } }]
    - match: [{ sniHosts: [b.example.com], port: ${port} }]
      route: [{ destination: { host: b.internal } }]
    - match: [{ sniHosts: ["*.canary.example.com"] }]
      route:
        - { destination: { host: w0.internal }, weight: 80 }
        - { destination: { host: w1.internal }, weight: 20 }
${entry('a', a)}${entry('b', b)}${entry('w0', weighted[0]!)}${entry('w1', weighted[1]!)}`;
}

interface World {
  gateway: GatewayProcess;
  port: number;
  a: TlsUpstream;
  b: TlsUpstream;
  weighted: TlsUpstream[];
}

let world: World;

test.before(async () => {
  const a = await startTlsUpstream('A', 'a.example.com');
  const b = await startTlsUpstream('B', 'b.example.com');
  // Distinct subjects: a client trusting both finds each one's issuer by name.
  const weighted = [await startTlsUpstream('W0', '*.canary.example.com', 'w0.canary'), await startTlsUpstream('W1', '*.canary.example.com', 'w1.canary')];
  const port = await freePort();
  const dir = await configDir('passthrough');
  await writeConfig(dir, 'edge.yaml', config(port, a, b, weighted));
  const gateway = await startGatewayProcess(['--config', dir]);
  world = { gateway, port, a, b, weighted };
});

test.after.always(async () => {
  await world?.gateway.stop();
  for (const upstream of [world?.a, world?.b, ...(world?.weighted ?? [])]) upstream?.server.close();
});

interface Handshake {
  readonly subject: string | undefined;
  readonly greeting: string;
}

/** A TLS client through the gateway, trusting only `ca`; resolves with the peer's certificate subject and what it said. */
function handshake(servername: string, ca: string, options: { socket?: Duplex } = {}): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const client = tlsConnect({ ...(options.socket ? { socket: options.socket } : { host: '127.0.0.1', port: world.port }), servername, ca });
    let greeting = '';
    let subject: string | undefined;
    client.once('secureConnect', () => (subject = String(client.getPeerCertificate().subject?.CN)));
    client.on('data', (chunk: Buffer) => (greeting += chunk.toString()));
    client.once('end', () => (subject === undefined ? reject(new Error('closed before the handshake')) : resolve({ subject, greeting })));
    client.once('error', reject);
  });
}

test('each SNI name reaches its own TLS upstream untouched: node client sees the upstream certificate', async (t) => {
  t.deepEqual(await handshake('a.example.com', world.a.certificate.cert), { subject: 'a.example.com', greeting: 'hello from A' });
  t.deepEqual(await handshake('b.example.com', world.b.certificate.cert), { subject: 'b.example.com', greeting: 'hello from B' });
  const line = await eventually(() => world.gateway.accessLog.find((l) => l.includes(' b.example.com ')));
  t.regex(line, /^\[[^\]]+\] "- - -" 0 - /, 'Envoy TCP form: no method, path, protocol or status');
  t.true(line.includes(`"127.0.0.1:${world.b.port}" outbound|${world.b.port}||b.internal `), line);
});

const opensslTest = requireTool('openssl') ? test : test.skip;

opensslTest('openssl s_client -servername sees the upstream certificate and its data', async (t) => {
  const output = await new Promise<string>((resolve, reject) => {
    const child = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${world.port}`, '-servername', 'a.example.com', '-ign_eof'], { timeout: 20_000 }, (err, stdout) =>
      err && !stdout ? reject(err) : resolve(stdout),
    );
    child.stdin?.end();
  });
  t.regex(output, /subject=\s*CN\s*=\s*a\.example\.com/);
  t.true(output.includes('hello from A'), output);
});

test('weights are honoured across two upstreams of one SNI route (80/20 over 100 connections)', async (t) => {
  const counts = new Map<string, number>();
  const ca = world.weighted[0]!.certificate.cert + world.weighted[1]!.certificate.cert;
  for (let i = 0; i < 100; i++) {
    const { greeting } = await handshake(`n${i}.canary.example.com`, ca);
    counts.set(greeting, (counts.get(greeting) ?? 0) + 1);
  }
  const w0 = counts.get('hello from W0') ?? 0;
  const w1 = counts.get('hello from W1') ?? 0;
  t.is(w0 + w1, 100);
  // Binomial(100, 0.8): a standard deviation of 4; these bounds are 5 of them.
  t.true(w0 >= 60 && w0 <= 97, `W0 served ${w0}, W1 ${w1}`);
});

/** Connects with plain TCP, sends `bytes`, and resolves with what came back once the gateway closed. */
function rawExchange(bytes: Buffer): Promise<{ received: number; error?: string }> {
  return new Promise((resolve) => {
    const socket = netConnect(world.port, '127.0.0.1', () => socket.write(bytes));
    let received = 0;
    let error: string | undefined;
    socket.on('data', (chunk: Buffer) => (received += chunk.length));
    socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code));
    socket.once('close', () => resolve({ received, ...(error === undefined ? {} : { error }) }));
  });
}

test('an unknown SNI and a client that does not speak TLS are refused; the gateway still serves the others', async (t) => {
  await t.throwsAsync(handshake('c.example.com', world.a.certificate.cert), undefined, 'unknown SNI');
  t.is((await rawExchange(Buffer.from('GET / HTTP/1.1\r\nhost: a.example.com\r\n\r\n'))).received, 0, 'plain HTTP gets nothing back');
  const refused = await eventually(() => world.gateway.accessLog.filter((l) => l.includes(' NR filter_chain_not_found ')).length >= 2 || undefined);
  t.true(refused);
  t.true(world.gateway.accessLog.some((l) => l.includes(' NR filter_chain_not_found ') && l.includes(' c.example.com ')));
  t.deepEqual(await handshake('a.example.com', world.a.certificate.cert), { subject: 'a.example.com', greeting: 'hello from A' });
});

/** A duplex over a real socket that writes every chunk to it in `size`-byte pieces, one per tick. */
function trickle(socket: Socket, size: number): Duplex {
  const duplex = new Duplex({
    async write(chunk: Buffer, _encoding, callback) {
      for (let at = 0; at < chunk.length; at += size) {
        socket.write(chunk.subarray(at, at + size));
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      callback();
    },
    read() {
      socket.resume();
    },
    final(callback) {
      socket.end();
      callback();
    },
  });
  socket.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('error', (err) => duplex.destroy(err));
  return duplex;
}

test('a ClientHello split into tiny TCP writes still routes by its SNI', async (t) => {
  const socket = netConnect(world.port, '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  t.teardown(() => socket.destroy());
  t.deepEqual(await handshake('b.example.com', world.b.certificate.cert, { socket: trickle(socket, 5) }), { subject: 'b.example.com', greeting: 'hello from B' });
});
