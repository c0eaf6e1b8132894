import test from 'ava';
import type { ServerResponse } from 'node:http';
import { Pool, request } from 'undici';
import { freePort } from '../helpers/free-port.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { configDir, gatewayYaml, writeConfig } from '../helpers/config-files.js';
import { eventually } from '../helpers/eventually.js';
import { accessLogLine } from '../helpers/access-log-line.js';

// DestinationRule load balancers through the built gateway: three real endpoints behind one
// ServiceEntry per policy, and the endpoint that served each request read from its answer.

const policies = {
  'round-robin': 'simple: ROUND_ROBIN',
  header: 'consistentHash: { httpHeaderName: x-user }',
  cookie: 'consistentHash: { httpCookie: { name: affinity, path: /cookie, ttl: 60s } }',
  'source-ip': 'consistentHash: { useSourceIp: true }',
  'least-request': 'simple: LEAST_REQUEST',
} as const;

interface World {
  gateway: GatewayProcess;
  port: number;
  endpoints: TestUpstream[];
  /** Responses the slow endpoint holds back (under /least-request only), to be let go by the test. */
  held: ServerResponse[];
}

let world: World;

test.before(async () => {
  const held: ServerResponse[] = [];
  const endpoints = await Promise.all(
    ['e0', 'e1', 'e2'].map((name) =>
      startUpstream(name, (req, res) => {
        if (name === 'e0' && req.url?.startsWith('/least-request')) {
          held.push(res);
          return;
        }
        res.writeHead(200, { 'x-upstream': name });
        res.end(name);
      }),
    ),
  );
  const port = await freePort();
  const dir = await configDir('load-balancing');
  await writeConfig(dir, 'lb.yaml', config(port, endpoints));
  const gateway = await startGatewayProcess(['--config', dir, '--no-watch']);
  world = { gateway, port, endpoints, held };
});

test.after.always(async () => {
  for (const res of world?.held ?? []) res.end('released');
  await world?.gateway.stop();
  await Promise.all((world?.endpoints ?? []).map((endpoint) => endpoint.close()));
});

/** A Gateway, one route per policy (by path prefix) and a ServiceEntry + DestinationRule each. */
function config(port: number, endpoints: readonly TestUpstream[]): string {
  const names = Object.keys(policies) as (keyof typeof policies)[];
  const routes = names
    .map((name) => `
    - match: [{ uri: { prefix: /${name} } }]
      route:
        - destination: { host: ${name}.internal }`)
    .join('');
  const services = names.map((name) => `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ${name}
spec:
  hosts: [${name}.internal]
  resolution: STATIC
  ports:
    - { number: 80, name: http, protocol: HTTP }
  endpoints:${endpoints.map((endpoint) => `
    - { address: 127.0.0.1, ports: { http: ${endpoint.port} }, labels: { name: ${endpoint.name} } }`).join('')}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: ${name}
spec:
  host: ${name}.internal
  trafficPolicy:
    loadBalancer: { ${policies[name]} }
`);
  return `${gatewayYaml(port)}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: lb
spec:
  hosts: ["*"]
  gateways: [edge]
  http:${routes}
${services.join('')}`;
}

/** Which endpoint served the request, and the response headers. */
async function get(path: string, headers: Record<string, string> = {}, dispatcher?: Pool) {
  const res = await request(`http://127.0.0.1:${world.port}${path}`, { headers, ...(dispatcher === undefined ? {} : { dispatcher }) });
  const served = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${path}: status ${res.statusCode} ${served}`);
  return { served, headers: res.headers };
}

function countBy(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

test('ROUND_ROBIN serves the endpoints in rotation: 100 each of 300', async (t) => {
  const served: string[] = [];
  for (let i = 0; i < 300; i++) served.push((await get(`/round-robin/${i}`)).served);
  t.deepEqual(countBy(served), { e0: 100, e1: 100, e2: 100 });
  t.is(new Set(served.slice(0, 3)).size, 3);
  t.true(served.every((name, i) => i < 3 || name === served[i - 3]), 'the same order every turn');
});

test('consistentHash on a header: one key stays on one endpoint; 200 keys reach all three', async (t) => {
  const alice = await Promise.all(Array.from({ length: 100 }, () => get('/header/a', { 'x-user': 'alice' })));
  t.is(new Set(alice.map((r) => r.served)).size, 1, 'alice always lands on one endpoint');

  const keys = Array.from({ length: 200 }, (_, i) => `user-${i}`);
  const first = new Map<string, string>();
  for (let i = 0; i < keys.length; i += 20) {
    const batch = keys.slice(i, i + 20);
    const answers = await Promise.all(batch.map((key) => get('/header/b', { 'x-user': key })));
    batch.forEach((key, j) => first.set(key, answers[j]!.served));
  }
  const spread = countBy([...first.values()]);
  t.log('200 keys over the endpoints:', spread);
  t.deepEqual(Object.keys(spread).sort(), ['e0', 'e1', 'e2']);
  // Asked again, every key lands where it landed the first time.
  const again = await Promise.all(keys.slice(0, 50).map((key) => get('/header/c', { 'x-user': key })));
  t.deepEqual(again.map((r) => r.served), keys.slice(0, 50).map((key) => first.get(key)));
});

test('consistentHash on a cookie with a ttl: the first answer sets it, and a client sending it stays', async (t) => {
  const firstVisit = await get('/cookie/first');
  const setCookie = String(firstVisit.headers['set-cookie']);
  // Envoy's generated cookie: quoted value, Max-Age from the ttl, the Path given, HttpOnly.
  t.regex(setCookie, /^affinity="[0-9a-f]{16}"; Max-Age=60; Path=\/cookie; HttpOnly$/);
  const cookie = setCookie.split(';', 1)[0]!;

  const returning = await Promise.all(Array.from({ length: 50 }, (_, i) => get(`/cookie/again/${i}`, { cookie })));
  t.deepEqual(new Set(returning.map((r) => r.served)), new Set([firstVisit.served]), 'every visit on the first visit\'s endpoint');
  t.true(returning.every((r) => r.headers['set-cookie'] === undefined), 'no new cookie for a client that has one');

  // New clients get cookies of their own, which spread them over the endpoints.
  const newcomers = await Promise.all(Array.from({ length: 60 }, () => get('/cookie/new')));
  t.is(new Set(newcomers.map((r) => String(r.headers['set-cookie']))).size, 60);
  t.true(new Set(newcomers.map((r) => r.served)).size >= 2);
});

test('consistentHash on the source IP: each client address stays on one endpoint', async (t) => {
  // Linux routes all of 127.0.0.0/8 to loopback: twenty clients with addresses of their own.
  const clients = Array.from({ length: 20 }, (_, i) => new Pool(`http://127.0.0.1:${world.port}`, { localAddress: `127.0.0.${10 + i}` }));
  t.teardown(() => Promise.all(clients.map((client) => client.close())));
  const byClient = await Promise.all(
    clients.map(async (client, i) => {
      const served = new Set<string>();
      for (let n = 0; n < 10; n++) served.add((await get(`/source-ip/${i}/${n}`, {}, client)).served);
      return served;
    }),
  );
  t.true(byClient.every((served) => served.size === 1), 'one endpoint per client address');
  const used = new Set(byClient.flatMap((served) => [...served]));
  t.true(used.size >= 2, `twenty addresses all hashed to ${[...used].join()}`);
  const sources = new Set(world.endpoints.flatMap((e) => e.seen.filter((r) => r.url.startsWith('/source-ip/')).map((r) => r.headers['x-forwarded-for'])));
  t.is(sources.size, 20, 'the gateway saw twenty client addresses');
});

test('LEAST_REQUEST avoids the endpoint with a request in flight', async (t) => {
  // e0 holds every request it gets; e1 and e2 answer at once. Power of two choices never picks
  // an endpoint busier than the other one drawn, so once e0 holds one request it gets no more.
  // (Until then each pick lands on e0 with odds 1/3: sixty picks all missing it is 2.7e-11.)
  const servedBy: string[] = [];
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < 60; i++) {
    const path = `/least-request/${i}`;
    const heldBefore = world.held.length;
    let answered = false;
    pending.push(
      get(path).then((r) => {
        answered = true;
        servedBy.push(r.served);
      }),
    );
    // Wait until the request is held by e0, or answered and its access log line written: the
    // gateway releases an endpoint's count as it logs, so the next pick sees the true counts.
    await eventually(() => (answered || world.held.length > heldBefore ? true : undefined));
    if (answered) await accessLogLine(world.gateway, path);
  }
  const heldCount = world.held.length;
  t.log(`e0 held ${heldCount}, e1 served ${countBy(servedBy).e1 ?? 0}, e2 served ${countBy(servedBy).e2 ?? 0}`);
  t.is(heldCount, 1, `e0 got ${heldCount} of 60; round robin would give it 20`);
  t.is(servedBy.length, 59);

  for (const res of world.held.splice(0)) res.end('e0');
  await Promise.all(pending);
  t.is(servedBy.filter((name) => name === 'e0').length, heldCount);
});
