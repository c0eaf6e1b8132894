import test from 'ava';
import { newRequestId } from '../../src/upstream/request-id.js';

const uuidV4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('each id is a UUID v4 unlike every other, across refills of its entropy', (t) => {
  // 10,000 ids take more than two 4,096-id fills of entropy.
  const ids = Array.from({ length: 10_000 }, newRequestId);
  t.is(ids.filter((id) => !uuidV4.test(id)).length, 0);
  t.is(new Set(ids).size, ids.length);
});

test('an id is its own string: a later id does not change it', (t) => {
  const first = newRequestId();
  const copy = `${first}`;
  newRequestId();
  t.is(first, copy);
});

test('the random digits vary in every position', (t) => {
  // A digit that never changed over 1,000 ids would mean bytes not taken from the entropy.
  const ids = Array.from({ length: 1000 }, newRequestId);
  for (let i = 0; i < 36; i++) {
    if (i === 8 || i === 13 || i === 14 || i === 18 || i === 23) continue; // dashes and the version digit
    t.true(new Set(ids.map((id) => id[i])).size > 1, `position ${i}`);
  }
});
