import test from 'ava';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { request } from 'undici';
import { freePort } from '../helpers/free-port.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { configDir, gatewayWithServersYaml, singleRouteConfig, writeConfig } from '../helpers/config-files.js';
import { destinationRuleYaml, serviceEntryYaml, virtualServiceYaml } from '../helpers/service-yaml.js';
import { selfSignedCertificate, type TestCertificate } from '../helpers/self-signed-cert.js';
import { eventuallyAsync } from '../helpers/eventually.js';

// The admin port (15000) and the readiness port (15021) of the built gateway: what it serves,
// its clusters as the workers see them after real failures, its certificates, and never a key.

interface World {
  gateway: GatewayProcess;
  port: number;
  bad: TestUpstream;
  good: TestUpstream;
  credential: TestCertificate;
}
let world: World;

test.before(async () => {
  const bad = await startUpstream('bad', (_req, res) => {
    res.writeHead(500);
    res.end('failing');
  });
  const good = await startUpstream('good');
  const port = await freePort();
  const httpsPort = await freePort();
  const dir = await configDir('admin');
  const certs = path.join(dir, 'certs');
  const credential = selfSignedCertificate('admin.test', ['admin.test', 'www.admin.test']);
  await mkdir(path.join(certs, 'admin-cred'), { recursive: true });
  await writeFile(path.join(certs, 'admin-cred', 'tls.crt'), credential.cert);
  await writeFile(path.join(certs, 'admin-cred', 'tls.key'), credential.key);
  const config = path.join(dir, 'config');
  await mkdir(config);
  await writeConfig(
    config,
    'admin.yaml',
    `${gatewayWithServersYaml(`    - port: { number: ${port}, name: http, protocol: HTTP }
      hosts: ["*"]
    - port: { number: ${httpsPort}, name: https, protocol: HTTPS }
      hosts: [admin.test]
      tls: { mode: SIMPLE, credentialName: admin-cred }
`)}---
${virtualServiceYaml('flaky', `    - retries: { attempts: 0 }
      route: [{ destination: { host: flaky.internal, port: { number: 80 } } }]`)}${serviceEntryYaml('flaky', 'flaky.internal', 80, [bad.port, good.port])}${destinationRuleYaml(
      'flaky',
      'flaky.internal',
      `    loadBalancer: { simple: ROUND_ROBIN }
    connectionPool: { tcp: { maxConnections: 7 }, http: { http1MaxPendingRequests: 3, maxRetries: 2 } }
    outlierDetection: { consecutive5xxErrors: 2, interval: 100ms, baseEjectionTime: 60s, maxEjectionPercent: 50 }`,
    )}`,
  );
  const gateway = await startGatewayProcess(['--config', config, '--certs', certs, '--no-watch', '--workers', '2']);
  world = { gateway, port, bad, good, credential };
});

test.after.always(async () => {
  await world?.gateway.stop();
  await world?.bad.close();
  await world?.good.close();
});

const admin = async (path: string, port = world.gateway.adminPort) => {
  const response = await request(`http://127.0.0.1:${port}${path}`);
  return { status: response.statusCode, type: String(response.headers['content-type']), text: await response.body.text() };
};

test('/config_dump has the config but never a private key, nor any part of the key\'s base64', async (t) => {
  const dump = await admin('/config_dump');
  t.is(dump.status, 200);
  t.true(dump.text.includes('admin-cred'), 'the credential is named');
  t.false(dump.text.includes('PRIVATE KEY'));
  const keyBody = world.credential.key.replace(/-----[^-]+-----/g, '').replace(/\s/g, '');
  // Any 40-character run of the key would show a leak, escaped or not.
  for (let i = 0; i + 40 <= keyBody.length; i += 40) t.false(dump.text.includes(keyBody.slice(i, i + 40)), `key part ${i} in the dump`);
  for (const other of ['/certs', '/clusters', '/listeners']) t.false((await admin(other)).text.includes('PRIVATE KEY'), other);
});

test('/certs shows the served certificate\'s SANs, validity and issuer, never the key', async (t) => {
  const { status, text } = await admin('/certs');
  t.is(status, 200);
  const body = JSON.parse(text) as { certificates: { server: string; cert_chain: { subject_alt_names: string[]; expiration_time: string; valid_from: string; issuer: string; days_until_expiration: number }[] }[] };
  t.is(body.certificates.length, 1);
  const [served] = body.certificates[0]!.cert_chain;
  t.deepEqual(served!.subject_alt_names, ['DNS:admin.test', 'DNS:www.admin.test']);
  t.is(served!.issuer, 'CN=admin.test');
  t.true(Date.parse(served!.expiration_time) > Date.now());
  t.true(Date.parse(served!.valid_from) < Date.now());
  t.is(served!.days_until_expiration, 0, 'the test certificate lives one day');
});

test('/clusters, asked of both workers, shows the failing endpoint ejected after real 500s, and the circuit-breaker limits', async (t) => {
  const cluster = 'outbound|80||flaky.internal';
  const resolved = await eventuallyAsync(async () => {
    // Round robin over two endpoints: a few requests reach the failing one twice in a row on each worker.
    for (let i = 0; i < 8; i++) await (await request(`http://127.0.0.1:${world.port}/x${i}`)).body.dump();
    const body = JSON.parse((await admin('/clusters')).text) as { workers: number; cluster_statuses: { name: string; circuit_breakers: Record<string, number | null>; host_statuses: { address: string; health_status: Record<string, boolean> }[] }[] };
    const status = body.cluster_statuses.find((c) => c.name === cluster);
    const bad = status?.host_statuses.find((h) => h.address === `127.0.0.1:${world.bad.port}`);
    return bad?.health_status.failed_outlier_check === true ? { body, status: status! } : undefined;
  }, 15_000);
  t.is(resolved.body.workers, 2);
  const good = resolved.status.host_statuses.find((h) => h.address === `127.0.0.1:${world.good.port}`);
  t.deepEqual(good?.health_status, { failed_outlier_check: false, failed_active_health_check: false });
  t.like(resolved.status.circuit_breakers, { max_connections: 7, max_pending_requests: 3, max_requests: null, max_retries: 2, rq_active: 0 });
});

test('/listeners and /healthz/ready on the admin port; the readiness port answers readiness and nothing else', async (t) => {
  const listeners = JSON.parse((await admin('/listeners')).text) as { port: number }[];
  t.true(listeners.some((l) => l.port === world.port));
  t.is((await admin('/healthz/ready')).status, 200);
  const ready = await admin('/healthz/ready', world.gateway.readinessPort);
  t.is(ready.status, 200);
  t.is(ready.text, 'ready\n');
  t.is((await admin('/config_dump', world.gateway.readinessPort)).status, 404);
  t.is((await admin('/reload')).status, 200);
});

test('SIGTERM: the readiness port answers 503 while an in-flight request drains, then the request completes', async (t) => {
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  let arrived: () => void = () => {};
  const reached = new Promise<void>((resolve) => (arrived = resolve));
  const slow = await startUpstream('slow', (_req, res) => {
    arrived();
    void held.then(() => res.end('late'));
  });
  const port = await freePort();
  const dir = await configDir('admin-drain');
  await writeConfig(dir, 'app.yaml', singleRouteConfig({ port, upstreamPort: slow.port }));
  const gateway = await startGatewayProcess(['--config', dir, '--no-watch', '--drain-timeout', '20s']);
  try {
    t.is((await admin('/healthz/ready', gateway.readinessPort)).status, 200);
    const inFlight = request(`http://127.0.0.1:${port}/slow`).then(async (r) => ({ status: r.statusCode, body: await r.body.text() }));
    await reached;
    gateway.child.kill('SIGTERM');
    const notReady = await eventuallyAsync(async () => {
      const { status } = await admin('/healthz/ready', gateway.readinessPort);
      return status === 503 ? status : undefined;
    });
    t.is(notReady, 503);
    release();
    t.deepEqual(await inFlight, { status: 200, body: 'late' });
  } finally {
    release();
    await gateway.stop();
    await slow.close();
  }
});
