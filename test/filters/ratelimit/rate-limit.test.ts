import test from 'ava';
import { createServer, type Server } from 'node:http';
import { request } from 'undici';
import { snapshotOf } from '../../helpers/compile-config.js';
import { singleRouteConfig } from '../../helpers/config-files.js';
import { namedRouteYaml } from '../../helpers/rate-limit-yaml.js';
import { createRequestView } from '../../../src/routing/request-view.js';
import { readRateLimitCounts, runRateLimit } from '../../../src/filters/ratelimit/rate-limit.js';
import { createRateLimitBackends } from '../../../src/filters/ratelimit/rate-limit-backends.js';
import { createLogger } from '../../../src/log.js';
import type { Snapshot } from '../../../src/config/snapshot.js';

// The filter on a real HTTP server, with the snapshot's compiled routes and an in-memory
// backend: which requests a rule's selectors count, where attachments apply, and the counts.

const policy = (name: string, target: string, rules: string) => `---
apiVersion: meshgate.dev/v1alpha1
kind: RateLimitPolicy
metadata: { name: ${name} }
spec:
  targetRefs: [${target}]
  rules:
${rules}
`;

const config =
  singleRouteConfig({ port: 8080, upstreamPort: 9000, extraRoute: ['api', 'shadow', 'other'].map((name) => namedRouteYaml(name, 9000)).join('') }) +
  policy('on-gateway', '{ kind: Gateway, name: edge }', '    - limit: { requests: 1000, unit: Hour }') +
  policy('on-vs', '{ kind: VirtualService, name: app }', '    - limit: { requests: 2, unit: Hour }') +
  policy(
    'on-api',
    '{ kind: VirtualService, name: app, sectionName: api }',
    `    - clientSelectors:
        - headers: [{ name: x-tier, type: Exact, value: free }, { name: x-user, type: Distinct }]
          methods: [GET]
          path: { value: /api/v1 }
      limit: { requests: 2, unit: Minute }
    - clientSelectors: [{ sourceCIDR: { value: 10.0.0.0/8 } }]
      limit: { requests: 1, unit: Minute }
    - clientSelectors: [{ headers: [{ name: x-tier, type: RegularExpression, value: "gold|platinum" }] }]
      limit: { requests: 1, unit: Minute, burst: 2 }`,
  ) +
  policy('on-shadow', '{ kind: VirtualService, name: app, sectionName: shadow }', '    - limit: { requests: 3, unit: Minute }\n      shadowMode: true');

async function serve(snapshot: Snapshot): Promise<{ server: Server; url: string }> {
  const backends = createRateLimitBackends({ workers: 1, logger: createLogger({ level: 'error' }), ask: () => undefined });
  backends.configure(snapshot.rateLimitBackend);
  const listener = snapshot.listeners[0]!;
  const server = createServer((req, res) => {
    const found = listener.routes.route(createRequestView({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, scheme: 'http', port: 8080 }));
    const filter = found?.rateLimit;
    // The test client says which address it stands for: the filter gets the client address as a string.
    const client = String(req.headers['x-test-client'] ?? '127.0.0.1');
    void (filter === undefined ? Promise.resolve(undefined) : runRateLimit(filter, req, res, client, { backends, logger: createLogger({ level: 'error' }) })).then((reply) => {
      if (reply === undefined) res.end(filter === undefined ? 'no policy' : 'passed');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

async function statusesOf(url: string, count: number, headers: Record<string, string> = {}, method = 'GET'): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const response = await request(url, { headers, method });
    await response.body.dump();
    out.push(response.statusCode);
  }
  return out;
}

test('the most specific attachment wins, and each rule counts only what all its selectors select', async (t) => {
  const snapshot = await snapshotOf(t, config);
  const { server, url } = await serve(snapshot);
  t.teardown(() => server.close());

  // The VirtualService's policy (2 an hour) beats the Gateway's on a route no policy names.
  t.deepEqual(await statusesOf(`${url}/other`, 3), [200, 200, 429]);
  // On /api only the route's own rules apply. Exact + Distinct headers, method and path all must hold:
  const free = { 'x-tier': 'free', 'x-user': 'ann' };
  t.deepEqual(await statusesOf(`${url}/api/v1/a`, 3, free), [200, 200, 429]);
  t.deepEqual(await statusesOf(`${url}/api/v1/a`, 3, { ...free, 'x-user': 'bob' }), [200, 200, 429], 'each user has a bucket');
  t.deepEqual(await statusesOf(`${url}/api/v1/a`, 3, { ...free, 'x-user': 'ann' }, 'POST'), [200, 200, 200], 'POST is not selected');
  t.deepEqual(await statusesOf(`${url}/api/v2`, 3, free), [200, 200, 200], 'another path is not selected');
  t.deepEqual(await statusesOf(`${url}/api/v1/a`, 3, { 'x-tier': 'free' }), [200, 200, 200], 'no x-user: the Distinct header does not hold');
  // A CIDR: 10.1.2.3 is in 10.0.0.0/8 and shares one bucket with every address in it.
  t.deepEqual(await statusesOf(`${url}/api/x`, 2, { 'x-test-client': '10.1.2.3' }), [200, 429]);
  t.deepEqual(await statusesOf(`${url}/api/x`, 1, { 'x-test-client': '10.9.9.9' }), [429]);
  t.deepEqual(await statusesOf(`${url}/api/x`, 2, { 'x-test-client': '192.168.0.1' }), [200, 200]);
  // A regex, whole value; a burst of 2 above the limit of 1.
  t.deepEqual(await statusesOf(`${url}/api/y`, 4, { 'x-tier': 'gold' }), [200, 200, 200, 429]);
  t.deepEqual(await statusesOf(`${url}/api/y`, 2, { 'x-tier': 'golden' }), [200, 200]);

  // Shadow mode lets everything through and counts what it would have rejected.
  t.deepEqual(await statusesOf(`${url}/shadow`, 5), [200, 200, 200, 200, 200]);
  const counts = readRateLimitCounts(snapshot.rateLimitCounters);
  const of = (policyName: string) => Object.fromEntries(counts.filter((c) => c.policy === `default/${policyName}`).map((c) => [c.decision, c.count]));
  t.deepEqual(of('on-shadow'), { allowed: 3, limited: 0, shadowLimited: 2, error: 0 });
  t.deepEqual(of('on-vs'), { allowed: 2, limited: 1, shadowLimited: 0, error: 0 });
  t.deepEqual(of('on-gateway'), { allowed: 0, limited: 0, shadowLimited: 0, error: 0 });
});

test('a reload that keeps a rule keeps its buckets; one that changes the limit starts afresh', async (t) => {
  const backends = createRateLimitBackends({ workers: 1, logger: createLogger({ level: 'error' }), ask: () => undefined });
  const ruleOf = async (requests: number) => {
    const snapshot = await snapshotOf(t, singleRouteConfig({ port: 8080, upstreamPort: 9000 }) + policy('p', '{ kind: VirtualService, name: app }', `    - limit: { requests: ${requests}, unit: Hour }`));
    backends.configure(snapshot.rateLimitBackend);
    const found = snapshot.listeners[0]!.routes.route(createRequestView({ method: 'GET', url: '/', headers: { host: 'a' }, scheme: 'http', port: 8080 }));
    return found!.rateLimit!.rules[0]!;
  };
  const first = await ruleOf(2);
  t.is((await backends.consume(first.limit, first.global, '-')).decision, 'allowed');
  t.is((await backends.consume(first.limit, first.global, '-')).decision, 'allowed');
  const reloaded = await ruleOf(2);
  t.is((await backends.consume(reloaded.limit, reloaded.global, '-')).decision, 'limited');
  const changed = await ruleOf(3);
  t.is((await backends.consume(changed.limit, changed.global, '-')).decision, 'allowed');
});
