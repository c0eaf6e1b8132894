import test from 'ava';
import { mkdir, rm } from 'node:fs/promises';
import { connect as http2Connect } from 'node:http2';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { connect as tlsConnect, createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { freePort } from '../helpers/free-port.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { configDir, gatewayWithServersYaml, loopbackServiceEntryYaml, writeConfig } from '../helpers/config-files.js';
import { issueCert, makeCa, writeCredential, type Issued } from '../helpers/certs.js';
import { selfSignedCertificate, type TestCertificate } from '../helpers/self-signed-cert.js';
import { eventually } from '../helpers/eventually.js';

// One port with a PASSTHROUGH server and a SIMPLE server, as Istio allows: the SNI's most specific
// match decides per connection. a.example.com (exact, passthrough) reaches a TLS upstream with the
// upstream's certificate; any other *.example.com name is terminated by the gateway with its own
// certificate and routed as HTTP (HTTP/1.1 or h2 by ALPN); other names are refused. A reload that
// adds the passthrough server to a SIMPLE-only port turns it into such a port.

interface World {
  readonly dir: string;
  readonly certs: string;
  readonly ca: Issued;
  readonly upstream: TestUpstream;
  readonly tlsUpstream: { readonly server: TlsServer; readonly port: number; readonly certificate: TestCertificate };
}

let world: World;

test.before(async () => {
  const dir = await configDir('tls-mixed');
  const certs = path.join(dir, 'certs');
  const ca = await makeCa(dir, 'mixed-ca');
  await writeCredential(certs, 'web', await issueCert(dir, ca, 'gateway-web', { sans: ['*.example.com'] }));
  const upstream = await startUpstream('mixed-app');
  const certificate = selfSignedCertificate('a.example.com');
  const server = createTlsServer({ ...certificate }, (socket) => {
    socket.on('error', () => undefined);
    socket.end('hello from A');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  world = { dir, certs, ca, upstream, tlsUpstream: { server, port: (server.address() as AddressInfo).port, certificate } };
});

test.after.always(async () => {
  world?.tlsUpstream.server.close();
  await world?.upstream.close();
  if (world !== undefined) await rm(world.dir, { recursive: true, force: true });
});

const simpleServer = (port: number) => `    - port: { number: ${port}, name: https, protocol: HTTPS }
      hosts: ["*.example.com"]
      tls: { mode: SIMPLE, credentialName: web }
`;
const passthroughServer = (port: number) => `    - port: { number: ${port}, name: tls, protocol: TLS }
      hosts: [a.example.com]
      tls: { mode: PASSTHROUGH }
`;

const passthroughRoute = `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: pass }
spec:
  hosts: [a.example.com]
  gateways: [edge]
  tls:
    - match: [{ sniHosts: [a.example.com] }]
      route: [{ destination: { host: a.internal } }]
`;

function config(port: number, withPassthrough: boolean): string {
  return `${gatewayWithServersYaml(`${withPassthrough ? passthroughServer(port) : ''}${simpleServer(port)}`)}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: app }
spec:
  hosts: ["*.example.com"]
  gateways: [edge]
  http:
    - route: [{ destination: { host: app.internal, port: { number: ${world.upstream.port} } } }]
${withPassthrough ? passthroughRoute : ''}${loopbackServiceEntryYaml('app', world.upstream.port, 'HTTP')}${loopbackServiceEntryYaml('a', world.tlsUpstream.port, 'TLS')}`;
}

async function startGateway(port: number, withPassthrough: boolean): Promise<{ gateway: GatewayProcess; configFolder: string }> {
  const configFolder = await configDir('tls-mixed-config');
  await mkdir(configFolder, { recursive: true });
  await writeConfig(configFolder, 'edge.yaml', config(port, withPassthrough));
  const gateway = await startGatewayProcess(['--config', configFolder, '--certs', world.certs]);
  return { gateway, configFolder };
}

interface Seen {
  readonly cn?: string;
  readonly text?: string;
  readonly error?: string;
}

/** A TLS connection for `servername` trusting `ca`: the certificate's CN and all the peer sent after `send` (or the error). */
function exchange(port: number, servername: string, ca: string, send?: string): Promise<Seen> {
  return new Promise((resolve) => {
    let cn: string | undefined;
    let secured = false;
    let text = '';
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, ca, ALPNProtocols: ['http/1.1'] }, () => {
      secured = true;
      const subject = socket.getPeerCertificate().subject?.CN;
      cn = typeof subject === 'string' ? subject : undefined;
      if (send !== undefined) socket.write(send);
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => resolve(secured ? { ...(cn === undefined ? {} : { cn }), text } : { error: 'closed before the handshake' }));
    socket.on('error', (err) => resolve({ error: err.message }));
  });
}

const get = (host: string) => `GET /mixed HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`;

test('one port: a.example.com is relayed to its TLS upstream, b.example.com terminated and routed (HTTP/1.1 and h2), unknown names refused', async (t) => {
  const port = await freePort();
  const { gateway, configFolder } = await startGateway(port, true);
  t.teardown(async () => {
    await gateway.stop();
    await rm(configFolder, { recursive: true, force: true });
  });

  const relayed = await exchange(port, 'a.example.com', world.tlsUpstream.certificate.cert);
  t.deepEqual(relayed, { cn: 'a.example.com', text: 'hello from A' }, 'the exact passthrough name beats the terminating *.example.com');

  const terminated = await exchange(port, 'b.example.com', world.ca.cert, get('b.example.com'));
  t.is(terminated.cn, 'gateway-web', 'the gateway\'s certificate');
  t.regex(terminated.text ?? '', /^HTTP\/1\.1 200/);
  t.regex(terminated.text ?? '', /"upstream":"mixed-app"/);
  t.regex(terminated.text ?? '', /"url":"\/mixed"/);

  // h2 by ALPN on a handed-over connection.
  const session = http2Connect(`https://127.0.0.1:${port}`, { servername: 'c.example.com', ca: world.ca.cert });
  t.teardown(() => session.destroy());
  const { status, body, alpn } = await new Promise<{ status: number; body: string; alpn: string | false | undefined }>((resolve, reject) => {
    const stream = session.request({ ':authority': 'c.example.com', ':path': '/over-h2' });
    let status = 0;
    let body = '';
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => (body += chunk));
    stream.on('end', () => resolve({ status, body, alpn: session.alpnProtocol }));
    stream.on('error', reject);
    stream.end();
  });
  t.is(alpn, 'h2');
  t.is(status, 200);
  t.regex(body, /"url":"\/over-h2"/);

  const unknown = await exchange(port, 'other.org', world.ca.cert);
  t.truthy(unknown.error, 'a name neither side claims is refused');
  t.is(unknown.cn, undefined);

  // The terminated connections are logged as HTTP requests, the relayed one as a TCP line.
  const http1Line = await eventually(() => gateway.accessLog.find((l) => l.includes('"GET /mixed HTTP/1.1" 200')));
  t.truthy(http1Line);
  t.truthy(await eventually(() => gateway.accessLog.find((l) => l.includes('"GET /over-h2 HTTP/2" 200'))));
  t.truthy(await eventually(() => gateway.accessLog.find((l) => l.startsWith('[') && l.includes('"- - -" 0') && l.includes(' a.example.com '))));
  t.false(gateway.accessLog.some((l) => l.includes('"- - -"') && (l.includes(' b.example.com ') || l.includes(' c.example.com '))), 'no TCP line for a handed-over connection');
});

test('a reload that adds a PASSTHROUGH server to a SIMPLE port: both are served after it; removing it again works too', async (t) => {
  const port = await freePort();
  const { gateway, configFolder } = await startGateway(port, false);
  t.teardown(async () => {
    await gateway.stop();
    await rm(configFolder, { recursive: true, force: true });
  });
  const before = await exchange(port, 'a.example.com', world.ca.cert, get('a.example.com'));
  t.is(before.cn, 'gateway-web', 'before the reload a.example.com is terminated (*.example.com)');
  t.regex(before.text ?? '', /^HTTP\/1\.1 200/);

  await writeConfig(configFolder, 'edge.yaml', config(port, true));
  // The port changes kind: the TLS listener is closed and the mixed one bound before the reload is reported.
  await gateway.waitForLog((l) => l.msg === 'config reloaded');
  t.deepEqual(await exchange(port, 'a.example.com', world.tlsUpstream.certificate.cert), { cn: 'a.example.com', text: 'hello from A' });
  const terminated = await exchange(port, 'b.example.com', world.ca.cert, get('b.example.com'));
  t.is(terminated.cn, 'gateway-web');
  t.regex(terminated.text ?? '', /^HTTP\/1\.1 200/);

  // And back: without the PASSTHROUGH server the port is a TLS port again.
  await writeConfig(configFolder, 'edge.yaml', config(port, false));
  await gateway.waitForLog((l) => l.msg === 'config reloaded' && l.generation === 3);
  const after = await exchange(port, 'a.example.com', world.ca.cert, get('a.example.com'));
  t.is(after.cn, 'gateway-web');
  t.regex(after.text ?? '', /^HTTP\/1\.1 200/);
});
