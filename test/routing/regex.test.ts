import test from 'ava';
import RE2 from 're2';
import { compileFullMatchRegex, regexProblem, requiredLiteralPrefix } from '../../src/routing/regex.js';

// The literal-prefix check in front of RE2 is an optimisation only: it must never change an answer.

const prefixes: [pattern: string, prefix: string][] = [
  ['/items/[0-9]+', '/items/'],
  ['/api/v1/.*', '/api/v1/'],
  ['/ratings/[0-9]+', '/ratings/'],
  ['/ab*c', '/a'], // b* makes "b" optional
  ['/ab?c', '/a'],
  ['/ab{0,2}c', '/a'],
  ['/ab+c', '/ab'], // b+ needs one b
  ['abc', 'abc'],
  ['/a|/b', ''], // a branch may start differently
  ['(/a)/b', ''],
  ['.*', ''],
  ['^/x', ''],
  ['\\.well-known/x', ''],
  ['/caf\u00e9s?', '/caf\u00e9'],
  ['/\u{1F600}*x', '/'], // never half of a surrogate pair
  ['', ''],
];

for (const [pattern, prefix] of prefixes) {
  test(`requiredLiteralPrefix(${JSON.stringify(pattern)}) is ${JSON.stringify(prefix)}`, (t) => {
    t.is(requiredLiteralPrefix(pattern), prefix);
  });
}

test('the prefiltered regex answers exactly as RE2 on the whole value', (t) => {
  const patterns = ['/items/[0-9]+', '/ab*c', '/ab+c', '/a|/b', '/api/v[0-9]+/.*', '/caf\u00e9s?', '/\u{1F600}*x', 'x+'];
  const values = ['', '/', '/items/', '/items/12', '/items/12/x', '/ac', '/abc', '/abbc', '/a', '/b', '/api/v2/x', '/api/vx/x',
    '/caf\u00e9', '/caf\u00e9s', '/x', '/\u{1F600}x', '/\u{1F600}\u{1F600}x', 'x', 'xx', 'y'];
  let compared = 0;
  for (const pattern of patterns) {
    const reference = new RE2(`^(?:${pattern})$`, 'u');
    const compiled = compileFullMatchRegex(pattern);
    for (const value of values) {
      t.is(compiled.test(value), reference.test(value), `${pattern} on ${JSON.stringify(value)}`);
      compared++;
    }
  }
  t.is(compared, patterns.length * values.length);
});

test('ignoreCase skips the prefix check and still matches any case', (t) => {
  const compiled = compileFullMatchRegex('/Items/[0-9]+', true);
  t.true(compiled.test('/ITEMS/7'));
  t.true(compiled.test('/items/7'));
  t.false(compiled.test('/items/x'));
});

test('patterns RE2 refuses are reported, and a pattern cannot escape its anchors', (t) => {
  t.regex(regexProblem('(a)\\1') ?? '', /invalid|back/i);
  t.regex(regexProblem('(?=a)') ?? '', /invalid|missing|perl/i);
  t.truthy(regexProblem('a)|(b'), 'unbalanced on its own, so it is refused rather than unanchored');
  t.is(regexProblem('/items/[0-9]+'), undefined);
});

test('a pattern without ")" is compiled once, anchored, and refused exactly where RE2 refuses it bare', (t) => {
  const refusedBare = ['[a', '(a', 'a\\', '*a', 'a**', '(?=a', 'x{2,1}'];
  for (const pattern of refusedBare) {
    t.throws(() => new RE2(pattern, 'u'), undefined, `RE2 refuses ${pattern} bare`);
    t.throws(() => compileFullMatchRegex(pattern), undefined, pattern);
    t.false((regexProblem(pattern) ?? '').includes('^(?:'), `the complaint about ${pattern} quotes it as written`);
  }
  t.true(compileFullMatchRegex('/a|/b').test('/b'), 'an alternation stays inside the anchors');
  t.false(compileFullMatchRegex('/a|/b').test('/a/b'));
  t.throws(() => compileFullMatchRegex('a)|(b'), undefined, 'with a ")" the bare compile still guards the anchors');
});
