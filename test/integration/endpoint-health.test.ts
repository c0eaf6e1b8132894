import test from 'ava';
import { request } from 'undici';
import { freePort } from '../helpers/free-port.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startGatewayProcess, type GatewayProcess, type LogLine } from '../helpers/gateway-process.js';
import { configDir, gatewayYaml, writeConfig } from '../helpers/config-files.js';
import { destinationRuleYaml, serviceEntryYaml, virtualServiceYaml } from '../helpers/service-yaml.js';

// Endpoints taken out of load balancing and brought back: outlier ejection (DestinationRule
// outlierDetection) and active health checks (meshgate's HealthCheckPolicy), against real
// upstreams, with short times.

const failing = (status: number) => (_req: unknown, res: import('node:http').ServerResponse) => {
  res.writeHead(status);
  res.end('failing');
};

let healthy = true;

interface World {
  gateway: GatewayProcess;
  port: number;
  bad: TestUpstream;
  bad2: TestUpstream;
  goodA: TestUpstream;
  goodB: TestUpstream;
  checked: TestUpstream;
}
let world: World;

const get = async (path: string) => {
  const res = await request(`http://127.0.0.1:${world.port}${path}`);
  await res.body.dump();
  return res.statusCode;
};
const hits = (upstream: TestUpstream, prefix: string) => upstream.seen.filter((s) => s.url.startsWith(prefix)).length;
const logAt = (line: LogLine) => Date.parse(line.time as string);

test.before(async () => {
  const bad = await startUpstream('bad', failing(500));
  const bad2 = await startUpstream('bad2', failing(502));
  const goodA = await startUpstream('goodA');
  const goodB = await startUpstream('goodB');
  const checked = await startUpstream('checked', (req, res) => {
    const ok = req.url !== '/healthz' || healthy;
    res.writeHead(ok ? 200 : 503);
    res.end(ok ? 'ok' : 'down');
  });
  const port = await freePort();
  const route = (prefix: string, host: string) => `    - match: [{ uri: { prefix: ${prefix} } }]
      retries: { attempts: 0 }
      route: [{ destination: { host: ${host}, port: { number: 80 } } }]`;
  const outliers = (maxEjectionPercent: number) => `    loadBalancer: { simple: ROUND_ROBIN }
    outlierDetection: { consecutive5xxErrors: 3, interval: 100ms, baseEjectionTime: 3s, maxEjectionPercent: ${maxEjectionPercent} }`;
  const dir = await configDir('endpoint-health');
  await writeConfig(
    dir,
    'health.yaml',
    `${gatewayYaml(port)}---
${virtualServiceYaml('health', [route('/one-bad/', 'one-bad.internal'), route('/two-bad/', 'two-bad.internal'), route('/checked/', 'checked.internal')].join('\n'))}${serviceEntryYaml('one-bad', 'one-bad.internal', 80, [bad.port, goodA.port, goodB.port])}${serviceEntryYaml('two-bad', 'two-bad.internal', 80, [bad.port, bad2.port, goodA.port])}${serviceEntryYaml('checked', 'checked.internal', 80, [checked.port, goodB.port])}${destinationRuleYaml('one-bad', 'one-bad.internal', outliers(50))}${destinationRuleYaml('two-bad', 'two-bad.internal', outliers(50))}${destinationRuleYaml('checked', 'checked.internal', '    loadBalancer: { simple: ROUND_ROBIN }')}apiVersion: meshgate.dev/v1alpha1
kind: HealthCheckPolicy
metadata:
  name: checked
spec:
  host: checked.internal
  path: /healthz
  interval: 100ms
  timeout: 500ms
  unhealthyThreshold: 2
  healthyThreshold: 2
  expectedStatuses: ["200-299"]
`,
  );
  const gateway = await startGatewayProcess(['--config', dir, '--no-watch']);
  world = { gateway, port, bad, bad2, goodA, goodB, checked };
});

test.after.always(async () => {
  await world?.gateway.stop();
  await Promise.all([world?.bad, world?.bad2, world?.goodA, world?.goodB, world?.checked].map((u) => u?.close()));
});

test('an endpoint answering 500s is ejected after consecutive5xxErrors, gets nothing, and returns after baseEjectionTime', async (t) => {
  const statuses: number[] = [];
  for (let i = 0; i < 15; i++) statuses.push(await get(`/one-bad/${i}`));
  t.is(hits(world.bad, '/one-bad/'), 3, 'three 500s in a row, then no more traffic');
  t.is(statuses.filter((s) => s === 500).length, 3);
  t.is(hits(world.goodA, '/one-bad/') + hits(world.goodB, '/one-bad/'), 12);
  const isOneBad = (l: LogLine) => typeof l.cluster === 'string' && l.cluster.endsWith('|one-bad.internal');
  const ejected = await world.gateway.waitForLog((l) => l.msg === 'outlier ejected' && isOneBad(l));
  t.is(ejected.endpoint, `127.0.0.1:${world.bad.port}`);
  const returned = await world.gateway.waitForLog((l) => l.msg === 'outlier returned' && isOneBad(l), 8000);
  const outFor = logAt(returned) - logAt(ejected);
  // Back at the first 100 ms sweep after the 3 s ejection.
  t.true(outFor >= 3000 && outFor < 4000, `ejected for ${outFor} ms`);
  for (let i = 0; i < 6; i++) await get(`/one-bad/back-${i}`);
  t.true(hits(world.bad, '/one-bad/back-') >= 1, 'traffic again once back');
});

test('maxEjectionPercent holds: of two failing endpoints out of three, 50% lets only one be ejected', async (t) => {
  for (let i = 0; i < 30; i++) await get(`/two-bad/${i}`);
  const onBad = hits(world.bad, '/two-bad/');
  const onBad2 = hits(world.bad2, '/two-bad/');
  t.log(`failing endpoints served ${onBad} and ${onBad2} of 30`);
  // One is out after its third error; the other keeps its share, since a second would be 67%.
  t.is(Math.min(onBad, onBad2), 3);
  t.true(Math.max(onBad, onBad2) > 6);
  await world.gateway.waitForLog((l) => l.msg === 'outlier not ejected: maxEjectionPercent reached');
});

test('a health check takes a failing endpoint out and brings it back when it passes again', async (t) => {
  for (let i = 0; i < 6; i++) t.is(await get(`/checked/before-${i}`), 200);
  t.true(hits(world.checked, '/checked/before-') >= 1, 'both endpoints serve at first');

  healthy = false;
  const out = await world.gateway.waitForLog((l) => l.msg === 'health check failed: endpoint out');
  t.is(out.endpoint, `127.0.0.1:${world.checked.port}`);
  t.is(out.policy, 'default/checked');
  for (let i = 0; i < 10; i++) t.is(await get(`/checked/down-${i}`), 200);
  t.is(hits(world.checked, '/checked/down-'), 0, 'no traffic while unhealthy');
  t.is(hits(world.goodB, '/checked/down-'), 10);

  healthy = true;
  await world.gateway.waitForLog((l) => l.msg === 'health check passed: endpoint back in');
  for (let i = 0; i < 6; i++) t.is(await get(`/checked/up-${i}`), 200);
  t.true(hits(world.checked, '/checked/up-') >= 1, 'traffic again once healthy');
  // Checks carry the service host and Envoy's health-check user agent.
  const check = world.checked.seen.find((s) => s.url === '/healthz');
  t.is(check?.headers.host, 'checked.internal');
  t.is(check?.headers['user-agent'], 'Envoy/HC');
});
