import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { promisify } from 'node:util';
import { freePort } from '../helpers/free-port.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { appRouteYaml, configDir, gatewayWithServersYaml, writeConfig } from '../helpers/config-files.js';
import { issueCert, makeCa, writeCredential, type Issued } from '../helpers/certs.js';
import { requireTool } from '../helpers/require-tool.js';

// One HTTPS port with three servers and three certificates, seen by real clients: curl and
// openssl s_client each get the certificate of the name they ask for.

const exec = promisify(execFile);
const curlTest = requireTool('curl') ? test : test.skip;
const opensslTest = requireTool('openssl') ? test : test.skip;

interface World {
  gateway: GatewayProcess;
  port: number;
  upstream: TestUpstream;
  dir: string;
  ca: Issued;
}

let world: World;

function config(port: number, upstreamPort: number): string {
  const server = (name: string, hosts: string[], credential: string, extra = '') => `    - port: { number: ${port}, name: https-${name}, protocol: HTTPS }
      hosts: [${hosts.map((h) => JSON.stringify(h)).join(', ')}]
      tls: { mode: SIMPLE, credentialName: ${credential}${extra} }
`;
  return `${gatewayWithServersYaml(`${server('a', ['a.test'], 'a-cred')}${server('b', ['b.test'], 'b-cred')}${server('wild', ['*.wild.test'], 'wild-cred')}${server('old', ['old.test'], 'old-cred', ', maxProtocolVersion: TLSV1_2, cipherSuites: [ECDHE-ECDSA-AES128-GCM-SHA256]')}`)}---
${appRouteYaml({ upstreamPort })}`;
}

test.before(async () => {
  const upstream = await startUpstream('tls-app');
  const port = await freePort();
  const dir = await configDir('tls-sni');
  const certs = path.join(dir, 'certs');
  const ca = await makeCa(dir, 'test-ca');
  await writeCredential(certs, 'a-cred', await issueCert(dir, ca, 'a', { sans: ['a.test'] }));
  await writeCredential(certs, 'b-cred', await issueCert(dir, ca, 'b', { sans: ['b.test'] }));
  await writeCredential(certs, 'wild-cred', await issueCert(dir, ca, 'wild', { sans: ['*.wild.test'] }));
  await writeCredential(certs, 'old-cred', await issueCert(dir, ca, 'old', { sans: ['old.test'] }));
  await mkdir(path.join(dir, 'config'));
  await writeConfig(path.join(dir, 'config'), 'app.yaml', config(port, upstream.port));
  const gateway = await startGatewayProcess(['--config', path.join(dir, 'config'), '--certs', certs, '--no-watch']);
  world = { gateway, port, upstream, dir, ca };
});

test.after.always(async () => {
  await world?.gateway.stop();
  await world?.upstream.close();
  if (world !== undefined) await rm(world.dir, { recursive: true, force: true });
});

/** The handshake's outcome: the certificate's CN and the protocol, or the error. */
function handshake(options: ConnectionOptions): Promise<{ cn?: string; protocol?: string | null; error?: string }> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: world.port, ca: world.ca.cert, ...options }, () => {
      const cn = socket.getPeerCertificate().subject?.CN;
      resolve({ ...(typeof cn === 'string' ? { cn } : {}), protocol: socket.getProtocol() });
      socket.destroy();
    });
    socket.on('error', (err) => resolve({ error: err.message }));
  });
}

curlTest('curl --resolve: each host gets its own certificate, verified against the CA, and is routed', async (t) => {
  for (const host of ['a.test', 'b.test', 'x.wild.test', 'y.wild.test']) {
    const { stdout } = await exec('curl', ['-sS', '--cacert', world.ca.certFile, '--resolve', `${host}:${world.port}:127.0.0.1`, `https://${host}:${world.port}/hello`, '-w', '\n%{http_code} %{ssl_verify_result}']);
    const [body, status] = stdout.split('\n');
    t.is(status, '200 0', host);
    const seen = JSON.parse(body!) as { url: string; headers: Record<string, string> };
    t.is(seen.url, '/hello');
    t.is(seen.headers['x-forwarded-proto'], 'https');
    t.is(seen.headers.host, `${host}:${world.port}`);
  }
});

opensslTest('openssl s_client -servername sees the certificate of that server', async (t) => {
  for (const [name, cn] of [['a.test', 'a'], ['b.test', 'b'], ['z.wild.test', 'wild']] as const) {
    const { stdout } = await exec('sh', ['-c', `openssl s_client -connect 127.0.0.1:${world.port} -servername ${name} -CAfile ${world.ca.certFile} </dev/null 2>/dev/null`]);
    t.regex(stdout, new RegExp(`subject=.*CN\\s?=\\s?${cn}\\b`), name);
    t.regex(stdout, /Verify return code: 0 \(ok\)/);
  }
});

test('no SNI gets the first server certificate; an unknown SNI is refused in the handshake', async (t) => {
  const noSni = await handshake({ servername: '', rejectUnauthorized: false });
  t.is(noSni.cn, 'a');
  const unknown = await handshake({ servername: 'nobody.test' });
  t.truthy(unknown.error);
  t.is(unknown.cn, undefined);
  // The bare parent of a wildcard is not covered by it.
  t.truthy((await handshake({ servername: 'wild.test' })).error);
});

opensslTest('TLS 1.1 is refused by default, TLS 1.3 accepted, cipherSuites hold on TLS 1.2', async (t) => {
  t.is((await handshake({ servername: 'a.test', minVersion: 'TLSv1.3' })).protocol, 'TLSv1.3');
  const tls11 = await handshake({ servername: 'a.test', minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
  t.truthy(tls11.error, 'TLS 1.1 handshake refused');
  // openssl s_client too, when this openssl can still offer TLS 1.1 at all.
  const { stdout: help } = await exec('sh', ['-c', 'openssl s_client -help 2>&1 || true']);
  if (help.includes('-tls1_1')) {
    const { stdout } = await exec('sh', ['-c', `openssl s_client -connect 127.0.0.1:${world.port} -servername a.test -tls1_1 -cipher 'DEFAULT@SECLEVEL=0' </dev/null 2>&1 || true`]);
    t.regex(stdout, /alert protocol version/);
    t.regex(stdout, /Cipher is \(NONE\)/);
  } else {
    t.log('*** this openssl cannot speak TLS 1.1: the s_client leg is SKIPPED ***');
  }
  // old.test, on the same port, allows only ECDHE-ECDSA-AES128-GCM-SHA256 and at most TLS 1.2.
  const old = { servername: 'old.test' };
  const allowed = await handshake({ ...old, maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' });
  t.is(allowed.protocol, 'TLSv1.2');
  t.truthy((await handshake({ ...old, maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384' })).error);
  t.is((await handshake(old)).protocol, 'TLSv1.2', 'maxProtocolVersion TLSV1_2 holds');
});

test('the admin /config_dump shows the TLS servers and never a private key', async (t) => {
  const res = await fetch(`http://127.0.0.1:${world.gateway.adminPort}/config_dump`);
  const text = await res.text();
  t.is(res.status, 200);
  t.false(text.includes('PRIVATE KEY'));
  const dump = JSON.parse(text) as { listeners: { port: number; protocol: string; servers: { hosts: string[]; tls?: string }[] }[] };
  const https = dump.listeners.find((listener) => listener.port === world.port);
  t.is(https?.protocol, 'HTTPS');
  t.deepEqual(https?.servers.map((server) => [server.hosts, server.tls]), [[['a.test'], 'SIMPLE'], [['b.test'], 'SIMPLE'], [['*.wild.test'], 'SIMPLE'], [['old.test'], 'SIMPLE']]);
});
