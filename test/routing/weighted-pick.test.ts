import test from 'ava';
import { createWeightedPicker } from '../../src/routing/weighted-pick.js';

// A seeded generator (mulberry32), so a run is repeatable while still drawing like Math.random.
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function shares<T>(pick: () => T, draws: number): Map<T, number> {
  const counts = new Map<T, number>();
  for (let i = 0; i < draws; i++) {
    const value = pick();
    counts.set(value, (counts.get(value) ?? 0) + 1);
  }
  return new Map([...counts].map(([value, count]) => [value, (count / draws) * 100]));
}

const DRAWS = 20_000;

test('90/10: each share within 2 points of its weight over 20,000 picks', (t) => {
  const pick = createWeightedPicker([{ weight: 90, value: 'v1' }, { weight: 10, value: 'v2' }], seeded(1));
  const share = shares(pick, DRAWS);
  t.true(Math.abs((share.get('v1') ?? 0) - 90) <= 2, `v1 got ${share.get('v1')}%`);
  t.true(Math.abs((share.get('v2') ?? 0) - 10) <= 2, `v2 got ${share.get('v2')}%`);
});

test('33/33/34 with Math.random: each share within 2 points', (t) => {
  const pick = createWeightedPicker([
    { weight: 33, value: 'v1' },
    { weight: 33, value: 'v2' },
    { weight: 34, value: 'v3' },
  ]);
  const share = shares(pick, DRAWS);
  for (const [value, weight] of [['v1', 33], ['v2', 33], ['v3', 34]] as const) {
    t.true(Math.abs((share.get(value) ?? 0) - weight) <= 2, `${value} got ${share.get(value)}%`);
  }
});

test('weights are relative to their sum: 1/3 is 25%/75%', (t) => {
  const share = shares(createWeightedPicker([{ weight: 1, value: 'a' }, { weight: 3, value: 'b' }], seeded(7)), DRAWS);
  t.true(Math.abs((share.get('a') ?? 0) - 25) <= 2, `a got ${share.get('a')}%`);
});

test('boundaries: each random value lands on the choice whose cumulative range holds it', (t) => {
  let next = 0;
  const pick = createWeightedPicker([{ weight: 90, value: 'v1' }, { weight: 10, value: 'v2' }], () => next);
  for (const [random, expected] of [[0, 'v1'], [0.8999, 'v1'], [0.9, 'v2'], [0.9999, 'v2']] as const) {
    next = random;
    t.is(pick(), expected, `random() = ${random}`);
  }
});

test('a lone destination takes all traffic, its weight omitted or not', (t) => {
  const never = () => {
    throw new Error('a lone choice must not draw');
  };
  t.is(createWeightedPicker([{ value: 'only' }], never)(), 'only');
  t.is(createWeightedPicker([{ weight: 0, value: 'only' }], never)(), 'only');
});

test('weight 0 receives nothing', (t) => {
  const share = shares(createWeightedPicker([{ weight: 0, value: 'dark' }, { weight: 100, value: 'live' }, { weight: 0, value: 'off' }], seeded(3)), 2_000);
  t.deepEqual([...share.keys()], ['live']);
  let next = 0;
  const edges = createWeightedPicker([{ weight: 50, value: 'a' }, { weight: 0, value: 'zero' }, { weight: 50, value: 'b' }], () => next);
  next = 0.5;
  t.is(edges(), 'b');
});

test('refused: no choice, a negative or non-finite weight, all weights 0', (t) => {
  t.throws(() => createWeightedPicker([]), { instanceOf: RangeError });
  t.throws(() => createWeightedPicker([{ weight: -1, value: 'a' }, { weight: 2, value: 'b' }]), { instanceOf: RangeError });
  t.throws(() => createWeightedPicker([{ weight: Number.NaN, value: 'a' }, { weight: 2, value: 'b' }]), { instanceOf: RangeError });
  t.throws(() => createWeightedPicker([{ weight: 0, value: 'a' }, { value: 'b' }]), { instanceOf: RangeError });
});
