import test, { type ExecutionContext } from 'ava';
import { connect as http2Connect, type ClientHttp2Session } from 'node:http2';
import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { rm } from 'node:fs/promises';
import { connect as tlsConnect } from 'node:tls';
import { createH2Listener, type H2Listener } from '../../src/listeners/h2-listener.js';
import { createLogger } from '../../src/log.js';
import type { ListenerConfig } from '../../src/config/snapshot.js';
import { snapshotOf } from '../helpers/compile-config.js';
import { configDir, gatewayWithServersYaml } from '../helpers/config-files.js';
import { issueCert, makeCa, writeCredential, type Issued } from '../helpers/certs.js';
import type { DownstreamTimeouts } from '../../src/listeners/downstream-timeouts.js';
import { createTicketKeys, newTicketKeys, type TicketKeys } from '../../src/listeners/ticket-keys.js';
import { handshake } from '../helpers/tls-session.js';

// The TLS/HTTP/2 listener on its own: a plain TCP connection accepted elsewhere (as a port that
// peeks SNI for passthrough does) and handed to accept() is served like its own; a drain lets an
// HTTP/2 stream in flight finish; slow or silent clients are closed (short timeouts set here,
// bounds loose enough for a loaded machine); TLS sessions resume across a reload and a key
// rotation as far as they safely can.

const quietLogger = createLogger({ write: () => undefined });
let dir: string;
let ca: Issued;
let config: ListenerConfig;

test.before(async () => {
  dir = await configDir('h2-listener');
  ca = await makeCa(dir, 'listener-ca');
  await writeCredential(dir, 'web', await issueCert(dir, ca, 'web', { sans: ['web.test'] }));
  await writeCredential(dir, 'other', await issueCert(dir, ca, 'other', { sans: ['other.test'] }));
});

test.after.always(() => rm(dir, { recursive: true, force: true }));

const webServerYaml = `  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [web.test]
    tls: {mode: SIMPLE, credentialName: web}
`;

/** web.test beside other.test: two TLS servers on one port, so the port reads each ClientHello to pick one. */
const twoServersYaml = `${webServerYaml}  - port: {number: 443, name: https-other, protocol: HTTPS}
    hosts: [other.test]
    tls: {mode: SIMPLE, credentialName: other}
`;

async function listenerConfig(t: ExecutionContext, serversYaml: string): Promise<ListenerConfig> {
  return (await snapshotOf(t, gatewayWithServersYaml(serversYaml), dir)).listeners[0]!;
}

async function listener(
  t: ExecutionContext,
  onRequest: Parameters<typeof createH2Listener>[0]['onRequest'],
  timeouts?: Partial<DownstreamTimeouts>,
  ticketKeys: TicketKeys = createTicketKeys(),
  served?: ListenerConfig,
): Promise<H2Listener> {
  config ??= await listenerConfig(t, webServerYaml);
  const created = await createH2Listener({
    bind: '127.0.0.1',
    port: 0,
    logger: quietLogger,
    config: served ?? config,
    ticketKeys,
    onRequest,
    onUpgrade: (_req, socket) => socket.destroy(),
    ...(timeouts === undefined ? {} : { timeouts }),
  });
  t.teardown(() => created.close(0));
  return created;
}

/** GET `path` for web.test on an HTTP/2 session: the response body. */
function bodyOf(session: ClientHttp2Session, path = '/'): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const stream = session.request({ ':authority': 'web.test', ':path': path });
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => (text += chunk));
    stream.on('end', () => resolve(text));
    stream.on('error', reject);
    stream.end();
  });
}

test('accept(): a plain net.Socket accepted (and peeked at) by another server is terminated and served', async (t) => {
  const h2 = await listener(t, (req, res) => res.end(`served ${req.headers.host} over ${req.httpVersion}`));
  // As a port that peeks at the ClientHello for passthrough does: read the first bytes, put them back, hand over.
  const front: Server = createServer((socket) => {
    socket.once('data', (hello: Buffer) => {
      socket.pause();
      socket.unshift(hello);
      h2.accept(socket);
    });
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  t.teardown(() => front.close());
  const port = (front.address() as { port: number }).port;
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'web.test', ca: ca.cert, ALPNProtocols: ['http/1.1'] }, () => {
      socket.write('GET / HTTP/1.1\r\nhost: web.test\r\nconnection: close\r\n\r\n');
    });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
  t.regex(answer, /^HTTP\/1\.1 200/);
  t.regex(answer, /served web\.test over 1\.1/);
});

test('close(): an HTTP/2 stream in flight finishes; new connections are refused', async (t) => {
  let release: () => void = () => undefined;
  let reached: () => void = () => undefined;
  const arrived = new Promise<void>((resolve) => (reached = resolve));
  const h2 = await listener(t, (_req, res) => {
    release = () => res.end('finished');
    reached();
  });
  const { port } = h2.address();
  const session = http2Connect(`https://127.0.0.1:${port}`, { servername: 'web.test', ca: ca.cert });
  t.teardown(() => session.destroy());
  const body = bodyOf(session);
  await arrived;
  const closed = h2.close(5000);
  release();
  t.is(await body, 'finished');
  await closed;
  const refused = await new Promise<boolean>((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'web.test', ca: ca.cert }, () => resolve(false));
    socket.on('error', () => resolve(true));
  });
  t.true(refused);
});

test('update(): new connections follow the new config, TLS to plaintext h2c; an open TLS connection keeps going', async (t) => {
  const h2 = await listener(t, (req, res) => res.end(`over ${req.httpVersion}`));
  const { port } = h2.address();
  const tlsSession = http2Connect(`https://127.0.0.1:${port}`, { servername: 'web.test', ca: ca.cert });
  t.teardown(() => tlsSession.destroy());
  t.is(await bodyOf(tlsSession), 'over 2.0');
  const plaintext = (await snapshotOf(t, gatewayWithServersYaml(`  - port: {number: 443, name: http2, protocol: HTTP2}
    hosts: [web.test]
`))).listeners[0]!;
  h2.update(plaintext);
  const h2cSession = http2Connect(`http://127.0.0.1:${port}`);
  t.teardown(() => h2cSession.destroy());
  t.is(await bodyOf(h2cSession), 'over 2.0');
  t.is(await bodyOf(tlsSession), 'over 2.0');
});

/** Milliseconds from now until `socket` closes (the gateway closed it). */
function msUntilClosed(socket: Socket | ReturnType<typeof tlsConnect>): Promise<number> {
  const started = performance.now();
  return new Promise((resolve) => socket.once('close', () => resolve(performance.now() - started)));
}

test('a TLS client that sends half an HTTP/1.1 header block gets 408 and is closed after the header timeout', async (t) => {
  const h2 = await listener(t, (_req, res) => res.end('never'), { headersMs: 400, checkIntervalMs: 100 });
  const socket = tlsConnect({ host: '127.0.0.1', port: h2.address().port, servername: 'web.test', ca: ca.cert, ALPNProtocols: ['http/1.1'] });
  t.teardown(() => socket.destroy());
  await new Promise((resolve) => socket.once('secureConnect', resolve));
  let answer = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (answer += chunk));
  socket.on('error', () => undefined);
  const closed = msUntilClosed(socket);
  socket.write('GET / HTTP/1.1\r\nhost: web.test\r\nx-slow: ');
  const elapsed = await closed;
  t.regex(answer, /^HTTP\/1\.1 408/);
  t.true(elapsed >= 300 && elapsed < 10_000, `closed after ${Math.round(elapsed)} ms`);
});

test('an HTTP/2 session without streams is closed after the idle timeout; an open stream keeps it', async (t) => {
  let release: () => void = () => undefined;
  const h2 = await listener(
    t,
    (req, res) => {
      if (req.url === '/slow') release = () => res.end('slow done');
      else res.end('ok');
    },
    { http2IdleMs: 400 },
  );
  const session = http2Connect(`https://127.0.0.1:${h2.address().port}`, { servername: 'web.test', ca: ca.cert });
  t.teardown(() => session.destroy());
  session.on('error', () => undefined);
  // A stream that stays open (and quiet) past the idle time keeps the session.
  const slow = bodyOf(session, '/slow');
  await new Promise((resolve) => setTimeout(resolve, 1000));
  t.false(session.closed || session.destroyed, 'a session with an open stream outlives the idle timeout');
  const closed = new Promise<number>((resolve) => {
    const started = performance.now();
    session.once('close', () => resolve(performance.now() - started));
  });
  release();
  t.is(await slow, 'slow done');
  const elapsed = await closed;
  t.true(elapsed >= 300 && elapsed < 10_000, `closed ${Math.round(elapsed)} ms after its last stream`);
});

/** Connects and sends nothing: milliseconds until the gateway closes the connection. */
async function silentClientClosedAfter(t: ExecutionContext, h2: H2Listener): Promise<number> {
  const socket = netConnect(h2.address().port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  socket.on('error', () => undefined);
  return msUntilClosed(socket);
}

test('a client that opens TCP and never sends a ClientHello is closed after the ClientHello timeout (a port that reads it)', async (t) => {
  const h2 = await listener(t, (_req, res) => res.end('never'), { clientHelloMs: 400 }, undefined, await listenerConfig(t, twoServersYaml));
  const elapsed = await silentClientClosedAfter(t, h2);
  t.true(elapsed >= 300 && elapsed < 10_000, `closed after ${Math.round(elapsed)} ms`);
});

test('a port with one TLS server leaves the ClientHello to it: the handshake timeout counts from the connection', async (t) => {
  const h2 = await listener(t, (_req, res) => res.end('never'), { clientHelloMs: 60_000, tlsHandshakeMs: 400 });
  const elapsed = await silentClientClosedAfter(t, h2);
  t.true(elapsed >= 300 && elapsed < 10_000, `closed after ${Math.round(elapsed)} ms`);
});

test('a port with one TLS server refuses an SNI none of its hosts covers before sending a certificate; no SNI is served', async (t) => {
  const h2 = await listener(t, (_req, res) => res.end('ok'));
  const { port } = h2.address();
  const refused = await new Promise<{ error?: string; certificateSeen: boolean }>((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'nobody.test', rejectUnauthorized: false });
    socket.once('secureConnect', () => resolve({ certificateSeen: true }));
    socket.once('error', (err) => resolve({ error: err.message, certificateSeen: socket.getPeerX509Certificate() !== undefined }));
  });
  t.truthy(refused.error, 'the handshake fails');
  t.false(refused.certificateSeen, 'no certificate came before the refusal');
  t.is((await handshake({ port, servername: 'web.test', ca: ca.cert })).cn, 'web');
  const noSni = await new Promise<string | undefined>((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: ca.cert, checkServerIdentity: () => undefined });
    socket.once('secureConnect', () => {
      resolve(socket.getPeerCertificate().subject?.CN as string | undefined);
      socket.destroy();
    });
    socket.once('error', reject);
  });
  t.is(noSni, 'web');
});

test('a TLS handshake that stalls after the ClientHello is closed after the handshake timeout', async (t) => {
  const h2 = await listener(t, (_req, res) => res.end('never'), { tlsHandshakeMs: 400 });
  // A relay that passes the client's bytes on but never the gateway's: the client never gets the
  // ServerHello, so the gateway waits for a Finished that never comes.
  let toGateway: Socket | undefined;
  const gatewayClosed = new Promise<number>((resolve) => {
    const relay = createServer((client) => {
      client.on('error', () => undefined);
      toGateway = netConnect(h2.address().port, '127.0.0.1');
      toGateway.on('error', () => undefined);
      toGateway.on('data', () => undefined);
      client.pipe(toGateway);
      client.once('data', () => {
        const started = performance.now();
        toGateway?.once('close', () => resolve(performance.now() - started));
      });
    });
    relay.listen(0, '127.0.0.1', () => {
      const client = tlsConnect({ host: '127.0.0.1', port: (relay.address() as { port: number }).port, servername: 'web.test', ca: ca.cert });
      client.on('error', () => undefined);
      t.teardown(() => {
        client.destroy();
        relay.close();
      });
    });
  });
  t.teardown(() => toGateway?.destroy());
  const elapsed = await gatewayClosed;
  t.true(elapsed >= 300 && elapsed < 10_000, `closed ${Math.round(elapsed)} ms after the ClientHello`);
});

test('update(): a session resumes on a TLS server whose settings did not change, never on one with other certificates', async (t) => {
  const h2 = await listener(t, (_req, res) => res.end('ok'));
  const { port } = h2.address();
  const first = await handshake({ port, servername: 'web.test', ca: ca.cert });
  t.false(first.reused);
  h2.update(await listenerConfig(t, twoServersYaml));
  const resumed = await handshake({ port, servername: 'web.test', ca: ca.cert, session: first.session! });
  t.true(resumed.reused, 'the kept TLS server resumes the session it issued before the update');
  // Both servers hold the same ticket keys: only the session id context keeps web's session off other's certificate.
  const elsewhere = await handshake({ port, servername: 'other.test', ca: ca.cert, session: first.session! });
  t.false(elsewhere.reused);
  t.is(elsewhere.cn, 'other');
});

test('rotate(): a ticket made with the old keys gets one full handshake, the next ticket resumes', async (t) => {
  const ticketKeys = createTicketKeys();
  const h2 = await listener(t, (_req, res) => res.end('ok'), undefined, ticketKeys);
  const { port } = h2.address();
  const before = await handshake({ port, servername: 'web.test', ca: ca.cert });
  t.true((await handshake({ port, servername: 'web.test', ca: ca.cert, session: before.session! })).reused);
  ticketKeys.rotate(newTicketKeys());
  const after = await handshake({ port, servername: 'web.test', ca: ca.cert, session: before.session! });
  t.false(after.reused);
  t.true((await handshake({ port, servername: 'web.test', ca: ca.cert, session: after.session! })).reused);
});
