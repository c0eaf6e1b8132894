import test from 'ava';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { connect as http2Connect } from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import path from 'node:path';
import { freePort } from '../helpers/free-port.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { appRouteYaml, configDir, gatewayWithServersYaml, writeConfig } from '../helpers/config-files.js';
import { issueCert, makeCa, revoke, writeCredential, type Issued } from '../helpers/certs.js';

// Client certificates on one HTTPS port: MUTUAL refuses a client without a certificate or with one
// from another CA, OPTIONAL_MUTUAL takes both and tells the upstream (x-forwarded-client-cert)
// only when there was one, subjectAltNames narrows MUTUAL further; and an HTTP/2 client that
// reuses a connection for a host of another server gets 421.

interface World {
  gateway: GatewayProcess;
  port: number;
  upstream: TestUpstream;
  dir: string;
  serverCa: Issued;
  good: Issued;
  badSan: Issued;
  otherCa: Issued;
  revoked: Issued;
}

let world: World;

function config(port: number, upstreamPort: number): string {
  return `${gatewayWithServersYaml(`    - port: { number: ${port}, name: https-open, protocol: HTTPS }
      hosts: [open.test]
      tls: { mode: SIMPLE, credentialName: open-cred }
    - port: { number: ${port}, name: https-mtls, protocol: HTTPS }
      hosts: [mtls.test]
      tls: { mode: MUTUAL, credentialName: mtls-cred }
    - port: { number: ${port}, name: https-opt, protocol: HTTPS }
      hosts: [opt.test]
      tls: { mode: OPTIONAL_MUTUAL, credentialName: opt-cred }
    - port: { number: ${port}, name: https-san, protocol: HTTPS }
      hosts: [san.test]
      tls: { mode: MUTUAL, credentialName: mtls-cred, subjectAltNames: ["spiffe://test/good"] }
    - port: { number: ${port}, name: https-crl, protocol: HTTPS }
      hosts: [crl.test]
      tls: { mode: MUTUAL, credentialName: crl-cred }
`)}---
${appRouteYaml({ upstreamPort })}`;
}

test.before(async () => {
  const upstream = await startUpstream('mtls-app');
  const port = await freePort();
  const dir = await configDir('tls-mutual');
  const certs = path.join(dir, 'certs');
  const serverCa = await makeCa(dir, 'server-ca');
  const clientCa = await makeCa(dir, 'client-ca');
  const strangerCa = await makeCa(dir, 'stranger-ca');
  await writeCredential(certs, 'open-cred', await issueCert(dir, serverCa, 'open', { sans: ['open.test'] }));
  await writeCredential(certs, 'mtls-cred', await issueCert(dir, serverCa, 'mtls', { sans: ['mtls.test', 'san.test'] }), clientCa);
  // OPTIONAL_MUTUAL's CA comes from the separate NAME-cacert folder (Istio's convention).
  await writeCredential(certs, 'opt-cred', await issueCert(dir, serverCa, 'opt', { sans: ['opt.test'] }));
  await mkdir(path.join(certs, 'opt-cred-cacert'));
  await writeFile(path.join(certs, 'opt-cred-cacert', 'ca.crt'), clientCa.cert);
  const good = await issueCert(dir, clientCa, 'good-client', { sans: ['URI:spiffe://test/good'] });
  const badSan = await issueCert(dir, clientCa, 'bad-client', { sans: ['URI:spiffe://test/bad'] });
  const otherCa = await issueCert(dir, strangerCa, 'stranger-client', { sans: ['URI:spiffe://test/good'] });
  const revoked = await issueCert(dir, clientCa, 'revoked-client', { sans: ['URI:spiffe://test/good'] });
  // crl.test: the CA and its CRL (which revokes one client) beside the certificate.
  await writeCredential(certs, 'crl-cred', await issueCert(dir, serverCa, 'crl', { sans: ['crl.test'] }), clientCa);
  await writeFile(path.join(certs, 'crl-cred', 'ca.crl'), await revoke(dir, clientCa, [revoked]));
  await mkdir(path.join(dir, 'config'));
  await writeConfig(path.join(dir, 'config'), 'app.yaml', config(port, upstream.port));
  const gateway = await startGatewayProcess(['--config', path.join(dir, 'config'), '--certs', certs, '--no-watch']);
  world = { gateway, port, upstream, dir, serverCa, good, badSan, otherCa, revoked };
});

test.after.always(async () => {
  await world?.gateway.stop();
  await world?.upstream.close();
  if (world !== undefined) await rm(world.dir, { recursive: true, force: true });
});

interface Answer {
  status?: number;
  headers?: Record<string, string>;
  error?: string;
}

/** One HTTPS request to `host` on the gateway, with a client certificate or without. */
function get(host: string, client?: Issued, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port: world.port,
        servername: host,
        path: '/',
        headers: { host, ...headers },
        ca: world.serverCa.cert,
        agent: false,
        ...(client === undefined ? {} : { cert: client.cert, key: client.key }),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: (JSON.parse(body) as { headers: Record<string, string> }).headers }));
      },
    );
    req.on('error', (err) => resolve({ error: err.message }));
    req.end();
  });
}

test('MUTUAL: no certificate and a certificate of another CA are refused; a good one is forwarded with XFCC', async (t) => {
  t.truthy((await get('mtls.test')).error, 'no client certificate');
  t.truthy((await get('mtls.test', world.otherCa)).error, 'a certificate from another CA');
  const ok = await get('mtls.test', world.good, { 'x-forwarded-client-cert': 'By=forged' });
  t.is(ok.status, 200);
  const xfcc = ok.headers?.['x-forwarded-client-cert'] ?? '';
  t.regex(xfcc, /^Hash=[0-9a-f]{64};Subject="[^"]*CN=good-client[^"]*";URI=spiffe:\/\/test\/good$/);
  t.notRegex(xfcc, /forged/);
});

test('OPTIONAL_MUTUAL: with and without a certificate; XFCC only with one, a forged one is dropped', async (t) => {
  const without = await get('opt.test', undefined, { 'x-forwarded-client-cert': 'Hash=forged' });
  t.is(without.status, 200);
  t.is(without.headers?.['x-forwarded-client-cert'], undefined);
  const withCert = await get('opt.test', world.good);
  t.is(withCert.status, 200);
  t.regex(withCert.headers?.['x-forwarded-client-cert'] ?? '', /URI=spiffe:\/\/test\/good/);
  // A presented certificate still has to verify.
  t.truthy((await get('opt.test', world.otherCa)).error);
});

test('subjectAltNames: only a client certificate with a listed SAN is let in', async (t) => {
  t.is((await get('san.test', world.good)).status, 200);
  t.truthy((await get('san.test', world.badSan)).error);
  // SIMPLE on the same port asks for nothing it checks.
  t.is((await get('open.test')).status, 200);
});

test('HTTP/2: an :authority of a server with other TLS settings on the same connection answers 421', async (t) => {
  const session = http2Connect(`https://127.0.0.1:${world.port}`, { servername: 'open.test', ca: world.serverCa.cert });
  t.teardown(() => session.close());
  const status = (authority: string) =>
    new Promise<number>((resolve, reject) => {
      const stream = session.request({ ':authority': authority, ':path': '/' });
      stream.on('response', (headers) => resolve(Number(headers[':status'])));
      stream.on('error', reject);
      stream.resume();
      stream.end();
    });
  t.is(await status('open.test'), 200);
  t.is(await status('mtls.test'), 421, 'the MUTUAL server is not reached without its handshake');
  t.is(await status(`open.test:${world.port}`), 200, 'the port in :authority does not matter');
  t.is(await status('nowhere.test'), 404);
});

test('a CRL beside the CA refuses the client certificate it revokes, and only that one', async (t) => {
  t.is((await get('crl.test', world.good)).status, 200);
  t.truthy((await get('crl.test', world.revoked)).error);
  // The CRL belongs to crl.test's server; the same client is fine where no CRL is configured.
  t.is((await get('mtls.test', world.revoked)).status, 200);
});

test('HTTP/1.1 and WebSocket upgrades get the same 421: no way around MUTUAL through another server name', async (t) => {
  const exchange = (request: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: world.port, servername: 'open.test', ca: world.serverCa.cert, ALPNProtocols: ['http/1.1'] }, () => socket.write(request));
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (text += chunk));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
  t.regex(await exchange('GET / HTTP/1.1\r\nhost: mtls.test\r\nconnection: close\r\n\r\n'), /^HTTP\/1\.1 421 /);
  const upgrade = 'GET /ws HTTP/1.1\r\nhost: mtls.test\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
  t.regex(await exchange(upgrade), /^HTTP\/1\.1 421 Misdirected Request/);
  t.is(world.upstream.seen.filter((seen) => seen.url === '/ws').length, 0);
});
