import test from 'ava';
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { request, WebSocket } from 'undici';
import { acceptAndEcho } from '../helpers/websocket-echo.js';
import { accessLogLine } from '../helpers/access-log-line.js';
import { freePort } from '../helpers/free-port.js';
import { startCountingServer } from '../helpers/counting-server.js';
import { startGatewayProcess } from '../helpers/gateway-process.js';
import { configDir, gatewayYaml, writeConfig } from '../helpers/config-files.js';
import { destinationRuleYaml, serviceEntryYaml, virtualServiceYaml } from '../helpers/service-yaml.js';

// Istio's circuit-breaking task against the gateway: connectionPool limits turn the requests
// past them into fast 503 UO instead of a queue.

test('maxConnections 1, http1MaxPendingRequests 1, 20 concurrent clients: some 200, the rest 503 UO at once', async (t) => {
  const upstream = await startCountingServer({ holdMs: 1000 });
  const capped = await startCountingServer({ holdMs: 1000 });
  const port = await freePort();
  const dir = await configDir('circuit-breaking');
  const route = (prefix: string, host: string) => `    - match: [{ uri: { prefix: ${prefix} } }]
      route: [{ destination: { host: ${host}, port: { number: 80 } } }]`;
  await writeConfig(
    dir,
    'cb.yaml',
    `${gatewayYaml(port)}---
${virtualServiceYaml('cb', `${route('/pending/', 'httpbin.internal')}\n${route('/requests/', 'capped.internal')}`)}${serviceEntryYaml('httpbin', 'httpbin.internal', 80, [upstream.port])}${serviceEntryYaml('capped', 'capped.internal', 80, [capped.port])}${destinationRuleYaml(
      'httpbin',
      'httpbin.internal',
      `    connectionPool:
      tcp: { maxConnections: 1 }
      http: { http1MaxPendingRequests: 1, maxRequestsPerConnection: 1 }`,
    )}${destinationRuleYaml('capped', 'capped.internal', '    connectionPool: { http: { http2MaxRequests: 3 } }')}`,
  );
  const gateway = await startGatewayProcess(['--config', dir, '--no-watch']);
  t.teardown(async () => {
    await gateway.stop();
    await Promise.all([upstream.close(), capped.close()]);
  });

  const fire = async (prefix: string) => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const res = await request(`http://127.0.0.1:${port}${prefix}${i}`);
        return { status: res.statusCode, body: await res.body.text() };
      }),
    );
    return { ok: answers.filter((a) => a.status === 200), overflow: answers.filter((a) => a.status === 503) };
  };

  const pending = await fire('/pending/');
  t.log(`maxConnections 1 + http1MaxPendingRequests 1: ${pending.ok.length} x 200, ${pending.overflow.length} x 503`);
  t.true(pending.ok.length >= 2, 'one request on the connection and one pending get through');
  t.true(pending.overflow.length >= 10, 'most of the 20 overflow');
  t.is(pending.ok.length + pending.overflow.length, 20);
  t.true(pending.overflow.every((a) => a.body === 'upstream connect error or disconnect/reset before headers. reset reason: overflow'));
  t.is(upstream.maxConcurrent(), 1, 'never more than one request at the upstream');
  const lines = gateway.accessLog.filter((l) => l.includes('"GET /pending/'));
  const overflowDurations = lines
    .map((l) => / 503 UO upstream_reset_before_response_started\{overflow\} - "-" \d+ \d+ (\d+) /.exec(l)?.[1])
    .filter((ms) => ms !== undefined)
    .map(Number);
  t.is(overflowDurations.length, pending.overflow.length);
  // Overflow is immediate: by the gateway's own clock no 503 waited out the 1 s the upstream holds a request.
  t.true(Math.max(...overflowDurations) < 1000, `503s answered in ${Math.max(...overflowDurations)} ms at most`);

  const requests = await fire('/requests/');
  t.log(`http2MaxRequests 3: ${requests.ok.length} x 200, ${requests.overflow.length} x 503`);
  t.true(requests.ok.length >= 3 && requests.overflow.length >= 10);
  t.is(capped.maxConcurrent(), 3, 'at most 3 requests in flight to the cluster');
});

test('a WebSocket upgrade counts against http2MaxRequests: while one is open, the next is refused 503 UO', async (t) => {
  const upstream = http.createServer((_req, res) => res.end('not an upgrade'));
  upstream.on('upgrade', (req: IncomingMessage, socket: Duplex) => acceptAndEcho(req, socket));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const upstreamPort = (upstream.address() as AddressInfo).port;
  const port = await freePort();
  const dir = await configDir('circuit-breaking-ws');
  await writeConfig(
    dir,
    'ws.yaml',
    `${gatewayYaml(port)}---
${virtualServiceYaml('ws', `    - route: [{ destination: { host: ws.internal, port: { number: 80 } } }]`)}${serviceEntryYaml('ws', 'ws.internal', 80, [upstreamPort])}${destinationRuleYaml('ws', 'ws.internal', '    connectionPool: { http: { http2MaxRequests: 1 } }')}`,
  );
  const gateway = await startGatewayProcess(['--config', dir, '--no-watch']);
  t.teardown(async () => {
    await gateway.stop();
    upstream.closeAllConnections();
    upstream.close();
  });

  const first = new WebSocket(`ws://127.0.0.1:${port}/first`);
  await new Promise((resolve, reject) => {
    first.addEventListener('open', resolve);
    first.addEventListener('error', reject);
  });
  const second = new WebSocket(`ws://127.0.0.1:${port}/second`);
  const refused = await new Promise<boolean>((resolve) => {
    second.addEventListener('open', () => resolve(false));
    second.addEventListener('error', () => resolve(true));
  });
  t.true(refused, 'the second upgrade fails its handshake');
  const line = await accessLogLine(gateway, '/second');
  t.regex(line, /" 503 UO /);
  // The first is untouched and still echoes.
  const echoed = new Promise<string>((resolve) => first.addEventListener('message', (event) => resolve(String(event.data)), { once: true }));
  first.send('still here');
  t.is(await echoed, 'still here');
  first.close();
});
