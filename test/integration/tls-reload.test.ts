import test from 'ava';
import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { connect as http2Connect, type ClientHttp2Session } from 'node:http2';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { freePort } from '../helpers/free-port.js';
import { startUpstream } from '../helpers/upstream.js';
import { startGatewayProcess } from '../helpers/gateway-process.js';
import { configDir, gatewayWithServersYaml, writeConfig } from '../helpers/config-files.js';
import { issueCert, makeCa, type Issued } from '../helpers/certs.js';

// Certificates swapped on disk the way Kubernetes updates a Secret volume (a new timestamped
// folder, then the `..data` symlink renamed over): new connections get the new certificate within
// 2 s, without a restart, while an open connection keeps working; a key that does not match is
// refused and the last good certificate keeps serving.

/** The Gateway `edge` with one SIMPLE server for NAME.test with credentialName NAME. */
function httpsServer(port: number, name: string): string {
  return gatewayWithServersYaml(`    - port: { number: ${port}, name: https, protocol: HTTPS }
      hosts: [${name}.test]
      tls: { mode: SIMPLE, credentialName: ${name} }
`);
}

/** Writes a Secret volume generation: certs/NAME/..vN/{tls.crt,tls.key} and swaps ..data to it. */
async function publish(folder: string, generation: number, cert: string, key: string): Promise<void> {
  const data = path.join(folder, `..v${generation}`);
  await mkdir(data, { recursive: true });
  await writeFile(path.join(data, 'tls.crt'), cert);
  await writeFile(path.join(data, 'tls.key'), key);
  const next = path.join(folder, '..data_tmp');
  await symlink(`..v${generation}`, next);
  await rename(next, path.join(folder, '..data'));
}

test('a certificate replaced on disk is served to new connections within 2 s; open ones keep going; a bad key is refused', async (t) => {
  const upstream = await startUpstream('reload-app');
  const port = await freePort();
  const dir = await configDir('tls-reload');
  const certs = path.join(dir, 'certs');
  const folder = path.join(certs, 'web');
  const ca = await makeCa(dir, 'reload-ca');
  const first = await issueCert(dir, ca, 'first', { sans: ['web.test'] });
  const second = await issueCert(dir, ca, 'second', { sans: ['web.test'] });
  const stranger = await issueCert(dir, ca, 'stranger', { sans: ['web.test'] });
  await publish(folder, 1, first.cert, first.key);
  await symlink('..data/tls.crt', path.join(folder, 'tls.crt'));
  await symlink('..data/tls.key', path.join(folder, 'tls.key'));
  await mkdir(path.join(dir, 'config'));
  await writeConfig(path.join(dir, 'config'), 'app.yaml', `${httpsServer(port, 'web')}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: app }
spec:
  hosts: [web.test]
  gateways: [edge]
  http:
    - route: [{ destination: { host: app.internal, port: { number: ${upstream.port} } } }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: app }
spec:
  hosts: [app.internal]
  resolution: STATIC
  ports: [{ number: ${upstream.port}, name: http, protocol: HTTP }]
  endpoints: [{ address: 127.0.0.1 }]
`);
  const sessions: ClientHttp2Session[] = [];
  t.teardown(async () => {
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  });
  const gateway = await startGatewayProcess(['--config', path.join(dir, 'config'), '--certs', certs]);
  t.teardown(async () => {
    for (const session of sessions) session.destroy();
    await gateway.stop();
  });

  const open = async (): Promise<ClientHttp2Session> => {
    const session = http2Connect(`https://127.0.0.1:${port}`, { servername: 'web.test', ca: ca.cert });
    sessions.push(session);
    await new Promise<void>((resolve, reject) => {
      session.once('connect', () => resolve());
      session.once('error', reject);
    });
    return session;
  };
  const servedCn = (session: ClientHttp2Session) => (session.socket as TLSSocket).getPeerCertificate().subject.CN;
  const status = (session: ClientHttp2Session) =>
    new Promise<number>((resolve, reject) => {
      const stream = session.request({ ':authority': 'web.test', ':path': '/' });
      stream.on('response', (headers) => resolve(Number(headers[':status'])));
      stream.on('error', reject);
      stream.resume();
      stream.end();
    });
  const newConnectionCn = async () => {
    const session = await open();
    const cn = servedCn(session);
    session.close();
    return cn;
  };

  const before = await open();
  t.is(servedCn(before), 'first');
  t.is(await status(before), 200);

  const swapped = Date.now();
  await publish(folder, 2, second.cert, second.key);
  let cn = await newConnectionCn();
  while (cn !== 'second' && Date.now() - swapped < 2000) cn = await newConnectionCn();
  t.is(cn, 'second', 'new connections get the new certificate within 2 s');
  t.log(`new certificate served ${Date.now() - swapped} ms after the swap`);
  // The connection opened before the swap still has the old certificate and still serves.
  t.is(servedCn(before), 'first');
  t.is(await status(before), 200);

  // A key of another certificate: refused with its code, and the last good certificate serves on.
  await publish(folder, 3, first.cert, stranger.key);
  const refused = await gateway.waitForLog((line) => line.code === 'MG_ERR_TLS_KEY_MISMATCH');
  t.regex(refused.msg, /spec\.servers\[0\]\.tls\.credentialName: the private key does not belong to the certificate/);
  await gateway.waitForLog((line) => line.msg === 'config reload refused; the last good config keeps serving');
  t.is(await newConnectionCn(), 'second');
  t.is(await status(await open()), 200);
});

test('certificate expiry: a warning for one that expires within 30 days', async (t) => {
  const dir = await configDir('tls-expiry');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const ca: Issued = await makeCa(dir, 'expiry-ca');
  const soon = await issueCert(dir, ca, 'soon', { sans: ['soon.test'], days: 10 });
  const port = await freePort();
  await mkdir(path.join(dir, 'certs', 'soon'), { recursive: true });
  await writeFile(path.join(dir, 'certs', 'soon', 'tls.crt'), soon.cert);
  await writeFile(path.join(dir, 'certs', 'soon', 'tls.key'), soon.key);
  await mkdir(path.join(dir, 'config'));
  await writeConfig(path.join(dir, 'config'), 'gw.yaml', httpsServer(port, 'soon'));
  const gateway = await startGatewayProcess(['--config', path.join(dir, 'config'), '--certs', path.join(dir, 'certs'), '--no-watch']);
  t.teardown(() => gateway.stop());
  const warning = await gateway.waitForLog((line) => line.code === 'MG_ERR_TLS_CERT_EXPIRING');
  t.is(warning.level, 'warn');
  t.regex(warning.msg, /expires on .* in (9|10) day\(s\)/);
});
