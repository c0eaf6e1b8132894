import test from 'ava';
import type { Endpoint } from '../../../src/upstream/endpoint.js';
import { endpointKey } from '../../../src/upstream/endpoint.js';
import { createLoadBalancer, type LoadBalancerSettings } from '../../../src/upstream/lb/index.js';
import { murmurHash3 } from '../../../src/upstream/lb/ring-hash.js';

const endpoint = (last: number, weight = 1): Endpoint => ({ address: `10.0.0.${last}`, port: 8080, labels: {}, weight });
const ringHash: LoadBalancerSettings = { consistentHash: { httpHeaderName: 'x-user' } };
const keys = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);

function assignments(settings: LoadBalancerSettings, endpoints: readonly Endpoint[]): string[] {
  const balancer = createLoadBalancer(settings, endpoints);
  return keys.map((hashKey) => endpointKey(balancer.pick({ hashKey })!));
}

function shares(assigned: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const key of assigned) counts.set(key, (counts.get(key) ?? 0) + 1);
  return new Map([...counts].map(([key, count]) => [key, count / assigned.length]));
}

test('the hash is MurmurHash3 x86_32: it reproduces the published test vectors', (t) => {
  t.is(murmurHash3('The quick brown fox jumps over the lazy dog'), 0x2e4ff723);
  t.is(murmurHash3(''), 0);
});

test('the same key always maps to the same endpoint, in this balancer and in one built elsewhere', (t) => {
  const endpoints = [endpoint(1), endpoint(2), endpoint(3), endpoint(4)];
  const balancer = createLoadBalancer(ringHash, endpoints);
  const first = keys.map((hashKey) => balancer.pick({ hashKey }));
  const again = keys.map((hashKey) => balancer.pick({ hashKey }));
  t.deepEqual(again, first);
  // Another replica, whose resolver listed the endpoints in another order, agrees.
  t.deepEqual(assignments(ringHash, [...endpoints].reverse()), first.map((e) => endpointKey(e!)));
});

test('keys spread over the endpoints', (t) => {
  const spread = shares(assignments(ringHash, [endpoint(1), endpoint(2), endpoint(3), endpoint(4)]));
  t.is(spread.size, 4);
  for (const [key, share] of spread) t.true(share > 0.15 && share < 0.35, `${key}: ${share}`);
});

test('adding a fifth endpoint moves about 1/5 of the keys, all of them to the new endpoint', (t) => {
  const four = [endpoint(1), endpoint(2), endpoint(3), endpoint(4)];
  const before = assignments(ringHash, four);
  const after = assignments(ringHash, [...four, endpoint(5)]);
  const moved = keys.filter((_, i) => before[i] !== after[i]);
  t.true(moved.length > keys.length * 0.1 && moved.length < keys.length * 0.3, `${moved.length} keys moved`);
  t.true(keys.every((_, i) => before[i] === after[i] || after[i] === '10.0.0.5:8080'));
});

test('weights are respected: a weight 3 endpoint owns about 3/4 of the keys against a weight 1', (t) => {
  const spread = shares(assignments(ringHash, [endpoint(1, 3), endpoint(2, 1)]));
  const heavy = spread.get('10.0.0.1:8080')!;
  t.true(heavy > 0.68 && heavy < 0.82, `heavy share ${heavy}`);
});

test('a bigger minimum ring spreads keys more evenly than a tiny one', (t) => {
  const endpoints = [endpoint(1), endpoint(2), endpoint(3), endpoint(4)];
  const worst = (size: number) => {
    const spread = shares(assignments({ consistentHash: { ringHash: { minimumRingSize: size } } }, endpoints));
    return Math.max(...endpoints.map((e) => Math.abs((spread.get(endpointKey(e)) ?? 0) - 0.25)));
  };
  t.true(worst(65_536) < 0.03, `deviation with a large ring ${worst(65_536)}`);
  t.true(worst(65_536) < worst(4));
});

test('an excluded owner passes the key on to one stable next endpoint; all excluded picks nothing', (t) => {
  const endpoints = [endpoint(1), endpoint(2), endpoint(3)];
  const balancer = createLoadBalancer(ringHash, endpoints);
  for (const hashKey of keys.slice(0, 200)) {
    const owner = balancer.pick({ hashKey })!;
    const exclude = new Set([endpointKey(owner)]);
    const next = balancer.pick({ hashKey, exclude });
    t.not(next, undefined);
    t.not(next, owner);
    t.is(balancer.pick({ hashKey, exclude }), next);
  }
  t.is(balancer.pick({ hashKey: 'k', exclude: new Set(endpoints.map(endpointKey)) }), undefined);
});

test('without a key the ring picks at random', (t) => {
  const endpoints = [endpoint(1), endpoint(2), endpoint(3)];
  const balancer = createLoadBalancer(ringHash, endpoints);
  const seen = new Set(Array.from({ length: 300 }, () => endpointKey(balancer.pick({})!)));
  t.deepEqual([...seen].sort(), endpoints.map(endpointKey));
});

test('maglev and the deprecated minimumRingSize also balance by consistent hash', (t) => {
  const endpoints = [endpoint(1), endpoint(2), endpoint(3)];
  for (const consistentHash of [{ maglev: { tableSize: 65537 } }, { minimumRingSize: 2048 }, { maglev: {} }]) {
    const settings = { consistentHash };
    const balancer = createLoadBalancer(settings, endpoints);
    const first = keys.slice(0, 500).map((hashKey) => balancer.pick({ hashKey }));
    t.deepEqual(keys.slice(0, 500).map((hashKey) => balancer.pick({ hashKey })), first);
    t.is(new Set(first).size, 3);
  }
});
