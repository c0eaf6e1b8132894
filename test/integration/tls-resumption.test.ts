import test, { type ExecutionContext } from 'ava';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { request } from 'undici';
import { freePort } from '../helpers/free-port.js';
import { startUpstream } from '../helpers/upstream.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { appRouteYaml, configDir, gatewayWithServersYaml, writeConfig } from '../helpers/config-files.js';
import { issueCert, makeCa, writeCredential, type Issued } from '../helpers/certs.js';
import { handshake, resumptions } from '../helpers/tls-session.js';

// TLS session resumption as a returning client sees it, on the real binary with two workers:
// a ticket resumes whichever worker takes the connection (with --connection-balance round-robin
// consecutive connections alternate; with kernel, the default, the kernel spreads them, about
// half each here), and across reloads unless the certificate changed. The client keeps offering the session of its first, full handshake: Node's TLS 1.3
// server sends no new ticket after a resumed handshake and accepts a ticket more than once, so
// this shows resumption on every connection instead of every other one.

interface Running {
  readonly gateway: GatewayProcess;
  readonly port: number;
  readonly ca: Issued;
  /** Rewrites the config: the server's credential, and an extra route when `routed`. */
  readonly write: (credential: string, routed?: boolean) => Promise<void>;
}

async function start(t: ExecutionContext, extraArgs: readonly string[] = []): Promise<Running> {
  const upstream = await startUpstream('resumption-app');
  const port = await freePort();
  const dir = await configDir('tls-resumption');
  const certs = path.join(dir, 'certs');
  const ca = await makeCa(dir, 'resumption-ca');
  await writeCredential(certs, 'first', await issueCert(dir, ca, 'first', { sans: ['web.test'] }));
  await writeCredential(certs, 'second', await issueCert(dir, ca, 'second', { sans: ['web.test'] }));
  const configs = path.join(dir, 'config');
  const write = async (credential: string, routed = false) => {
    const extraRoute = routed ? `\n    - match: [{ uri: { prefix: /new } }]\n      route: [{ destination: { host: app.internal, port: { number: ${upstream.port} } } }]` : '';
    await writeConfig(configs, 'app.yaml', `${gatewayWithServersYaml(`    - port: { number: ${port}, name: https, protocol: HTTPS }
      hosts: [web.test]
      tls: { mode: SIMPLE, credentialName: ${credential} }
`)}---
${appRouteYaml({ upstreamPort: upstream.port, host: 'web.test', extraRoute })}`);
  };
  await mkdir(configs);
  await write('first');
  const gateway = await startGatewayProcess(['--config', configs, '--certs', certs, '--workers', '2', '--log-level', 'debug', ...extraArgs]);
  t.teardown(async () => {
    await gateway.stop();
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { gateway, port, ca, write };
}

/** The pid of one live worker, from the admin port. */
async function aWorkerPid(gateway: GatewayProcess): Promise<number> {
  const res = await request(`http://127.0.0.1:${gateway.adminPort}/workers`);
  return ((await res.body.json()) as { pids: number[] }).pids[0]!;
}

for (const balance of ['kernel', 'round-robin'] as const) {
  test(`--workers 2, --connection-balance ${balance}: a session resumes on each of 20 further connections, whichever worker takes it, and on a replaced worker`, async (t) => {
    const { gateway, port, ca } = await start(t, ['--connection-balance', balance]);
    const first = await handshake({ port, servername: 'web.test', ca: ca.cert });
    t.false(first.reused);
    t.truthy(first.session);
    t.deepEqual(await resumptions(20, { port, servername: 'web.test', ca: ca.cert, session: first.session! }), Array.from({ length: 20 }, () => true));

    // TLS 1.2 tickets too (the ticket comes within the handshake there).
    const tls12 = await handshake({ port, servername: 'web.test', ca: ca.cert, maxVersion: 'TLSv1.2' });
    t.deepEqual(await resumptions(4, { port, servername: 'web.test', ca: ca.cert, maxVersion: 'TLSv1.2', session: tls12.session! }), [true, true, true, true]);

    // A worker that dies is replaced by one with the same keys (worker 3: its listener's debug line says it serves).
    process.kill(await aWorkerPid(gateway), 'SIGKILL');
    await gateway.waitForLog((l) => l.msg === 'listener ready' && l.worker === 3);
    t.deepEqual(await resumptions(4, { port, servername: 'web.test', ca: ca.cert, session: first.session! }), [true, true, true, true]);
  });
}

test('a reload that leaves TLS alone keeps sessions; one that changes the certificate gets a full handshake with the new one', async (t) => {
  const { gateway, port, ca, write } = await start(t);
  const first = await handshake({ port, servername: 'web.test', ca: ca.cert });
  t.is(first.cn, 'first');

  await write('first', true);
  await gateway.waitForLog((l) => l.msg === 'config reloaded' && l.generation === 2);
  t.deepEqual(await resumptions(4, { port, servername: 'web.test', ca: ca.cert, session: first.session! }), [true, true, true, true], 'both workers resume after a route change');

  await write('second', true);
  await gateway.waitForLog((l) => l.msg === 'config reloaded' && l.generation === 3);
  const afterCertificate = await handshake({ port, servername: 'web.test', ca: ca.cert, session: first.session! });
  t.false(afterCertificate.reused);
  t.is(afterCertificate.cn, 'second');
});
