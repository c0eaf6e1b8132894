import test from 'ava';
import type { Endpoint } from '../../../src/upstream/endpoint.js';
import { endpointKey } from '../../../src/upstream/endpoint.js';
import { createLoadBalancer } from '../../../src/upstream/lb/index.js';

const endpoint = (last: number, weight = 1): Endpoint => ({ address: `10.0.0.${last}`, port: 80, labels: {}, weight });

test('of two endpoints, the idle one is chosen while the other holds requests', (t) => {
  const [busy, idle] = [endpoint(1), endpoint(2)];
  const active = new Map([[endpointKey(busy), 3]]);
  const balancer = createLoadBalancer({ simple: 'LEAST_REQUEST' }, [busy, idle], { activeRequests: (key) => active.get(key) ?? 0 });
  for (let i = 0; i < 200; i++) t.is(balancer.pick({}), idle);
});

test('the default (unset, UNSPECIFIED) and LEAST_CONN are least request', (t) => {
  const [busy, idle] = [endpoint(1), endpoint(2)];
  const activeRequests = (key: string) => (key === endpointKey(busy) ? 1 : 0);
  for (const settings of [undefined, {}, { simple: 'UNSPECIFIED' as const }, { simple: 'LEAST_CONN' as const }]) {
    const balancer = createLoadBalancer(settings, [busy, idle], { activeRequests });
    for (let i = 0; i < 50; i++) t.is(balancer.pick({}), idle);
  }
});

test('with equal load the picks spread over all endpoints', (t) => {
  const endpoints = [endpoint(1), endpoint(2), endpoint(3)];
  const balancer = createLoadBalancer(undefined, endpoints);
  const counts = new Map<Endpoint | undefined, number>();
  for (let i = 0; i < 9000; i++) {
    const picked = balancer.pick({});
    counts.set(picked, (counts.get(picked) ?? 0) + 1);
  }
  for (const e of endpoints) t.true(Math.abs((counts.get(e) ?? 0) - 3000) < 450, `${endpointKey(e)}: ${counts.get(e)}`);
});

test('among many endpoints the busiest is never chosen and the least busy most often', (t) => {
  const endpoints = [1, 2, 3, 4, 5].map((n) => endpoint(n));
  const load = [0, 1, 2, 3, 4];
  const balancer = createLoadBalancer(undefined, endpoints, {
    activeRequests: (key) => load[endpoints.findIndex((e) => endpointKey(e) === key)]!,
  });
  const counts = endpoints.map(() => 0);
  for (let i = 0; i < 5000; i++) counts[endpoints.indexOf(balancer.pick({})!)]!++;
  t.is(counts[4], 0);
  t.deepEqual([...counts].sort((a, b) => b - a), counts);
});

test('excluded endpoints are never chosen even when they are idle', (t) => {
  const [idle, busy, other] = [endpoint(1), endpoint(2), endpoint(3)];
  const balancer = createLoadBalancer(undefined, [idle, busy, other], {
    activeRequests: (key) => (key === endpointKey(idle) ? 0 : 5),
  });
  const exclude = new Set([endpointKey(idle)]);
  for (let i = 0; i < 200; i++) t.not(balancer.pick({ exclude }), idle);
  t.is(balancer.pick({ exclude: new Set([endpointKey(idle), endpointKey(busy)]) }), other);
  t.is(balancer.pick({ exclude: new Set([idle, busy, other].map(endpointKey)) }), undefined);
});

test('unequal weights: idle picks follow the weights, and load is compared per unit of weight', (t) => {
  const [heavy, light] = [endpoint(1, 3), endpoint(2, 1)];
  const idleBalancer = createLoadBalancer(undefined, [heavy, light]);
  let heavyPicks = 0;
  for (let i = 0; i < 4000; i++) if (idleBalancer.pick({}) === heavy) heavyPicks++;
  // With two endpoints both are always drawn; ties keep the first draw, which is the heavy one 3/4 of the time.
  t.true(Math.abs(heavyPicks - 3000) < 250, `heavy picked ${heavyPicks} times`);

  // 2 in flight on weight 3 is less loaded than 1 in flight on weight 1.
  const loaded = createLoadBalancer(undefined, [heavy, light], {
    activeRequests: (key) => (key === endpointKey(heavy) ? 2 : 1),
  });
  for (let i = 0; i < 100; i++) t.is(loaded.pick({}), heavy);
  t.is(loaded.pick({ exclude: new Set([endpointKey(heavy)]) }), light);
});
