import test from 'ava';
import { compileStringMatch, isPresenceMatch, type StringMatchSpec } from '../../src/routing/string-match.js';

// [spec, options, value, expected] - cases from Istio's StringMatch docs and Envoy's StringMatcher.
const cases: [StringMatchSpec, { ignoreCase?: boolean }, string, boolean][] = [
  [{ exact: 'jason' }, {}, 'jason', true],
  [{ exact: 'jason' }, {}, 'Jason', false],
  [{ exact: 'jason' }, {}, 'jason2', false],
  [{ exact: '' }, {}, '', true],
  [{ exact: '' }, {}, 'x', false],
  [{ exact: '/ProductPage' }, { ignoreCase: true }, '/productpage', true],
  [{ exact: '/productpage' }, { ignoreCase: true }, '/PRODUCTPAGE', true],
  [{ exact: '/productpage' }, { ignoreCase: true }, '/productpages', false],
  [{ prefix: '/static' }, {}, '/static/style.css', true],
  [{ prefix: '/static' }, {}, '/staticfoo', true],
  [{ prefix: '/static' }, {}, '/Static/style.css', false],
  [{ prefix: '/static' }, {}, '/stat', false],
  [{ prefix: '/Static' }, { ignoreCase: true }, '/STATIC/x', true],
  [{ prefix: '/static' }, { ignoreCase: true }, '/STATI', false],
  // Envoy folds ASCII only: a Kelvin sign is not a 'k'.
  [{ exact: 'k' }, { ignoreCase: true }, '\u212a', false],
  [{ regex: '/api/v[0-9]+/.*' }, {}, '/api/v1/products', true],
  [{ regex: '/api/v[0-9]+/.*' }, {}, '/api/vX/products', false],
  // The whole value must match, as Istio's docs say of `regex: "\d+$"` on "a123".
  [{ regex: '\\d+$' }, {}, '123', true],
  [{ regex: '\\d+$' }, {}, 'a123', false],
  [{ regex: '\\d+$' }, {}, '123a', false],
  [{ regex: 'a|b' }, {}, 'ab', false],
  // ignoreCase does not reach regexes (Envoy: "no effect for the safe_regex match").
  [{ regex: 'abc' }, { ignoreCase: true }, 'ABC', false],
];

for (const [spec, options, value, expected] of cases) {
  test(`${JSON.stringify(spec)} ${options.ignoreCase ? '(ignoreCase) ' : ''}on ${JSON.stringify(value)} is ${expected}`, (t) => {
    t.is(compileStringMatch(spec, options)(value), expected);
  });
}

test('an empty StringMatch is refused: what it means is the caller\'s choice', (t) => {
  const error = t.throws(() => compileStringMatch({}), { instanceOf: TypeError });
  t.regex(error.message, /exactly one of exact, prefix, regex/);
});

test('two match types at once are refused', (t) => {
  t.throws(() => compileStringMatch({ exact: 'a', prefix: 'a' }), { instanceOf: TypeError });
});

test('a regex RE2 refuses fails at compile time with its reason', (t) => {
  t.throws(() => compileStringMatch({ regex: '(?=look-ahead)' }));
  // `*` alone is no regex: Istio turns it into a presence check before Envoy sees it.
  t.throws(() => compileStringMatch({ regex: '*' }));
});

test('isPresenceMatch: {} and regex "*" are presence checks, any real match type is not', (t) => {
  t.true(isPresenceMatch({}));
  t.true(isPresenceMatch({ regex: '*' }));
  t.false(isPresenceMatch({ exact: '' }));
  t.false(isPresenceMatch({ prefix: 'a' }));
  t.false(isPresenceMatch({ regex: '.*' }));
});
