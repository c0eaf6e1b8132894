import test from 'ava';
import type { Endpoint } from '../../../src/upstream/endpoint.js';
import { endpointKey } from '../../../src/upstream/endpoint.js';
import { createLoadBalancer } from '../../../src/upstream/lb/index.js';

const endpoint = (last: number, weight = 1): Endpoint => ({ address: `10.0.0.${last}`, port: 8080, labels: {}, weight });
const roundRobin = { simple: 'ROUND_ROBIN' } as const;

function countPicks(pick: () => Endpoint | undefined, times: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < times; i++) {
    const picked = pick();
    if (picked === undefined) throw new Error('no endpoint picked');
    counts.set(endpointKey(picked), (counts.get(endpointKey(picked)) ?? 0) + 1);
  }
  return counts;
}

test('equal weights: every endpoint exactly once per cycle, always in the same order', (t) => {
  const endpoints = [endpoint(1), endpoint(2), endpoint(3)];
  const balancer = createLoadBalancer(roundRobin, endpoints);
  const firstCycle = [0, 1, 2].map(() => balancer.pick({}));
  t.deepEqual(firstCycle.map((e) => endpointKey(e!)).sort(), endpoints.map(endpointKey));
  for (let cycle = 0; cycle < 10; cycle++) {
    t.deepEqual([0, 1, 2].map(() => balancer.pick({})), firstCycle);
  }
});

test('equal weights: excluded endpoints are skipped and the rest still alternate', (t) => {
  const endpoints = [endpoint(1), endpoint(2), endpoint(3)];
  const balancer = createLoadBalancer(roundRobin, endpoints);
  const exclude = new Set([endpointKey(endpoints[1]!)]);
  const counts = countPicks(() => balancer.pick({ exclude }), 100);
  t.deepEqual([...counts].sort(), [[endpointKey(endpoints[0]!), 50], [endpointKey(endpoints[2]!), 50]]);
});

test('weights: each endpoint gets exactly its weight per cycle, spread rather than in a burst', (t) => {
  const endpoints = [endpoint(1, 5), endpoint(2, 1), endpoint(3, 1)];
  const balancer = createLoadBalancer(roundRobin, endpoints);
  const cycle = Array.from({ length: 7 }, () => balancer.pick({}));
  t.is(cycle.filter((e) => e === endpoints[0]).length, 5);
  t.is(cycle.filter((e) => e === endpoints[1]).length, 1);
  t.is(cycle.filter((e) => e === endpoints[2]).length, 1);
  // Smooth weighted round robin never gives the heavy endpoint more than 3 turns in a row here.
  const heavyRuns = cycle.map((e) => (e === endpoints[0] ? 'h' : '.')).join('').split('.');
  t.true(Math.max(...heavyRuns.map((run) => run.length)) <= 3);
  t.deepEqual([...countPicks(() => balancer.pick({}), 700)].sort(), [
    [endpointKey(endpoints[0]!), 500],
    [endpointKey(endpoints[1]!), 100],
    [endpointKey(endpoints[2]!), 100],
  ]);
});

test('everything excluded, or no endpoints at all: no pick', (t) => {
  const endpoints = [endpoint(1), endpoint(2, 3)];
  t.is(createLoadBalancer(roundRobin, endpoints).pick({ exclude: new Set(endpoints.map(endpointKey)) }), undefined);
  t.is(createLoadBalancer(roundRobin, [endpoint(1)]).pick({ exclude: new Set(['10.0.0.1:8080']) }), undefined);
  t.is(createLoadBalancer(roundRobin, []).pick({}), undefined);
});
