import test from 'ava';
import type { Endpoint } from '../../../src/upstream/endpoint.js';
import { endpointKey } from '../../../src/upstream/endpoint.js';
import { createLoadBalancer } from '../../../src/upstream/lb/index.js';

const endpoint = (last: number, weight = 1): Endpoint => ({ address: `10.0.0.${last}`, port: 80, labels: {}, weight });
const random = { simple: 'RANDOM' } as const;

test('picks spread evenly over the endpoints (within 15% of the mean over 20000 picks)', (t) => {
  const endpoints = [endpoint(1), endpoint(2), endpoint(3), endpoint(4)];
  const balancer = createLoadBalancer(random, endpoints);
  const counts = new Map<Endpoint | undefined, number>();
  for (let i = 0; i < 20_000; i++) {
    const picked = balancer.pick({});
    counts.set(picked, (counts.get(picked) ?? 0) + 1);
  }
  t.is(counts.size, 4);
  for (const e of endpoints) t.true(Math.abs((counts.get(e) ?? 0) - 5000) < 750, `${endpointKey(e)}: ${counts.get(e)}`);
});

test('never picks an excluded endpoint, and spreads over the others', (t) => {
  const endpoints = [endpoint(1), endpoint(2), endpoint(3)];
  const balancer = createLoadBalancer(random, endpoints);
  const exclude = new Set([endpointKey(endpoints[0]!)]);
  const seen = new Map<Endpoint | undefined, number>();
  for (let i = 0; i < 4000; i++) {
    const picked = balancer.pick({ exclude });
    seen.set(picked, (seen.get(picked) ?? 0) + 1);
  }
  t.false(seen.has(endpoints[0]));
  t.false(seen.has(undefined));
  for (const e of endpoints.slice(1)) t.true(Math.abs((seen.get(e) ?? 0) - 2000) < 300);
  t.is(balancer.pick({ exclude: new Set(endpoints.map(endpointKey)) }), undefined);
});
