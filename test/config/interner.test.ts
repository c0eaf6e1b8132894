import test from 'ava';
import { createInterner, noInterning } from '../../src/config/interner.js';

test('an interner builds once per key and hands every later caller the same piece', (t) => {
  const shared = createInterner();
  let builds = 0;
  const build = () => {
    builds++;
    return { piece: builds };
  };
  const first = shared.intern('retry {"attempts":3}', build);
  t.is(shared.intern('retry {"attempts":3}', build), first);
  t.not(shared.intern('retry {"attempts":4}', build), first);
  t.is(builds, 2);
});

test('a piece that is undefined is kept too, and a build that throws keeps nothing', (t) => {
  const shared = createInterner();
  let builds = 0;
  const off = () => {
    builds++;
    return undefined;
  };
  t.is(shared.intern('retry {"attempts":0}', off), undefined);
  t.is(shared.intern('retry {"attempts":0}', off), undefined);
  t.is(builds, 1);
  t.throws(() => shared.intern('bad', () => { throw new RangeError('refused'); }), { instanceOf: RangeError });
  t.is(shared.intern('bad', () => 'built'), 'built');
});

test('separate interners, and noInterning, share nothing', (t) => {
  const build = () => ({});
  t.not(createInterner().intern('k', build), createInterner().intern('k', build));
  t.not(noInterning.intern('k', build), noInterning.intern('k', build));
});
