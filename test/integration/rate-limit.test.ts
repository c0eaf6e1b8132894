import test from 'ava';
import { request } from 'undici';
import { request as httpRequest } from 'node:http';
import { freePort } from '../helpers/free-port.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { accessLogLine } from '../helpers/access-log-line.js';
import { configDir, singleRouteConfig, writeConfig } from '../helpers/config-files.js';
import { sendMany } from '../helpers/send-many.js';
import { meshConfigYaml, namedRouteYaml, rateLimitPolicyYaml } from '../helpers/rate-limit-yaml.js';

// Local RateLimitPolicies through the built gateway: the exact count under a burst, the 429's
// flag and headers, shadow mode, one bucket per client (from X-Forwarded-For behind a trusted
// proxy), and `--workers 2` sharing one count instead of doubling it. Exact counts use a
// one-minute window: on a busy machine 300 requests can take longer than a second, and a
// per-second window would then rightly let a second 50 through.

let app: TestUpstream;

test.before(async () => {
  app = await startUpstream('app');
});

test.after.always(async () => {
  await app?.close();
});

async function startWith(name: string, yaml: (port: number) => string, workers = 1): Promise<{ gateway: GatewayProcess; url: (path: string) => string }> {
  const port = await freePort();
  const dir = await configDir(name);
  await writeConfig(dir, 'app.yaml', yaml(port));
  const gateway = await startGatewayProcess(['--config', dir, '--no-watch', '--workers', String(workers)], { mesh: false });
  return { gateway, url: (path) => `http://127.0.0.1:${port}${path}` };
}

const limitedConfig = (port: number) =>
  singleRouteConfig({ port, upstreamPort: app.port, extraRoute: ['limited', 'shadow', 'distinct', 'ws', 'free'].map((name) => namedRouteYaml(name, app.port)).join('') }) +
  rateLimitPolicyYaml('fifty', 'limited', '    - limit: { requests: 50, unit: Minute }') +
  rateLimitPolicyYaml('trial', 'shadow', '    - limit: { requests: 5, unit: Second }\n      shadowMode: true') +
  rateLimitPolicyYaml('per-client', 'distinct', '    - clientSelectors: [{ sourceCIDR: { type: Distinct, value: 0.0.0.0/0 } }]\n      limit: { requests: 5, unit: Minute }') +
  rateLimitPolicyYaml('one-socket', 'ws', '    - limit: { requests: 1, unit: Minute }') +
  meshConfigYaml('  defaultConfig: { gatewayTopology: { numTrustedProxies: 1 } }');

const statuses = (sent: readonly { status: number }[]) => {
  const counts: Record<number, number> = {};
  for (const { status } of sent) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
};

test('one process, a limit of 50: of 300 requests in its window exactly 50 pass, the rest get 429 RL with Retry-After and RateLimit headers', async (t) => {
  const { gateway, url } = await startWith('rl-local', limitedConfig);
  t.teardown(() => gateway.stop());
  const started = performance.now();
  const sent = await sendMany((i) => url(`/limited/${i}`), 300, 50);
  t.log(`300 requests in ${Math.round(performance.now() - started)} ms`);
  t.deepEqual(statuses(sent), { 200: 50, 429: 250 });

  const response = await request(url('/limited/again'));
  t.is(response.statusCode, 429);
  t.is(await response.body.text(), 'local_rate_limited');
  const retryAfter = Number(response.headers['retry-after']);
  t.true(retryAfter >= 1 && retryAfter <= 60, `retry-after: ${retryAfter}`);
  t.is(response.headers['ratelimit-policy'], '"fifty-0";q=50;w=60');
  t.is(response.headers.ratelimit, `"fifty-0";r=0;t=${retryAfter}`);
  t.regex(await accessLogLine(gateway, '/limited/again'), /" 429 RL local_rate_limited /);

  // A route no policy reaches is not limited.
  t.deepEqual(statuses(await sendMany((i) => url(`/free/${i}`), 100, 20)), { 200: 100 });

  // Shadow mode: nothing rejected; what would have been is counted and logged (not per request).
  t.deepEqual(statuses(await sendMany((i) => url(`/shadow/${i}`), 60, 20)), { 200: 60 });
  const logged = await gateway.waitForLog((line) => line.msg === 'rate limit exceeded in shadow mode; request let through');
  t.is(logged.policy, 'default/trial');
  t.true((logged.shadowLimited as number) >= 1);
  t.true(gateway.logs.filter((line) => line.msg === logged.msg).length < 55);
});

test('a Distinct source gives each client its own bucket; behind one trusted proxy the client is the last X-Forwarded-For entry; a WebSocket upgrade counts too', async (t) => {
  const { gateway, url } = await startWith('rl-distinct', limitedConfig);
  t.teardown(() => gateway.stop());
  const from = (client: string) => async () => {
    // What a client writes itself (the first entry) is never trusted: only the proxy's entry counts.
    const response = await request(url(`/distinct/${client}`), { headers: { 'x-forwarded-for': `203.0.113.9, ${client}` } });
    await response.body.dump();
    return response.statusCode;
  };
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < 8; i++) {
    a.push(await from('10.0.0.1')());
    b.push(await from('10.0.0.2')());
  }
  t.deepEqual(a, [200, 200, 200, 200, 200, 429, 429, 429]);
  t.deepEqual(b, [200, 200, 200, 200, 200, 429, 429, 429]);
  // The access log's DOWNSTREAM_REMOTE_ADDRESS is that client too, with port 0 as Envoy prints it.
  t.regex(await accessLogLine(gateway, '/distinct/10.0.0.2'), / 10\.0\.0\.2:0 /);

  // A WebSocket upgrade counts like a request: the second one over a limit of 1 is refused 429 RL.
  const upgrade = (path: string) =>
    new Promise<{ status: number; headers: Record<string, unknown> }>((resolve, reject) => {
      const req = httpRequest(url(path), { headers: { connection: 'upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
      req.on('upgrade', (res, socket) => {
        socket.destroy();
        resolve({ status: res.statusCode ?? 0, headers: res.headers });
      });
      req.on('response', (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, headers: res.headers });
      });
      req.on('error', reject);
      req.end();
    });
  t.not((await upgrade('/ws/1')).status, 429);
  const refused = await upgrade('/ws/2');
  t.is(refused.status, 429);
  t.is(refused.headers['ratelimit-policy'], '"one-socket-0";q=1;w=60');
  t.regex(await accessLogLine(gateway, '/ws/2'), /" 429 RL local_rate_limited /);
});

test('--workers 2: the two workers share one count, so a limit of 50 stays 50 (not 100)', async (t) => {
  const { gateway, url } = await startWith('rl-workers', limitedConfig, 2);
  t.teardown(() => gateway.stop());
  // Many connections, so node:cluster hands them to both workers.
  const sent = await sendMany((i) => url(`/limited/${i}`), 300, 50);
  t.deepEqual(statuses(sent), { 200: 50, 429: 250 });
  // The decisions as Prometheus sees them: both workers' counts in one series per decision.
  const scrape = await (await request(`http://127.0.0.1:${gateway.adminPort}/stats/prometheus`)).body.text();
  const decisions = (decision: string) => Number(new RegExp(`^meshgate_ratelimit_decisions_total\\{policy="default/fifty",decision="${decision}"\\} (\\d+)$`, 'm').exec(scrape)?.[1]);
  t.is(decisions('allowed'), 50);
  t.is(decisions('limited'), 250);
});
