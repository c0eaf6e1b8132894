import test from 'ava';
import { compileRewrite, type HttpRewriteSpec } from '../../../src/routing/actions/rewrite.js';

const table: [string, HttpRewriteSpec, string | undefined, string, string][] = [
  // Istio docs (HTTPRewrite): prefix /ratings rewritten to /v1/bookRatings.
  ['prefix match: the matched prefix is swapped', { uri: '/v1/bookRatings' }, '/ratings', '/ratings/123?x=1', '/v1/bookRatings/123?x=1'],
  ['prefix match on the whole path', { uri: '/v1/bookRatings' }, '/ratings', '/ratings', '/v1/bookRatings'],
  ['prefix / to a path: Envoy just prepends', { uri: '/api' }, '/', '/users/7', '/apiusers/7'],
  ['prefix /foo/ to /: the slash is kept once', { uri: '/' }, '/foo/', '/foo/bar', '/bar'],
  ['prefix /foo to /: Envoy leaves a double slash', { uri: '/' }, '/foo', '/foo/bar', '//bar'],
  ['ignoreCase prefix: the matched length is cut', { uri: '/v2' }, '/api', '/API/items', '/v2/items'],
  ['exact or regex match: the whole path, query kept', { uri: '/v1/bookRatings' }, undefined, '/v1/getProductRatings?id=3', '/v1/bookRatings?id=3'],
  ['exact match without a query', { uri: '/new' }, undefined, '/old', '/new'],
  // Istio docs (RegexRewrite) and Envoy's regex_rewrite examples.
  ['uriRegexRewrite with groups', { uriRegexRewrite: { match: '^/service/([^/]+)(/.*)$', rewrite: '\\2/instance/\\1' } }, '/service', '/service/foo/v1/api', '/v1/api/instance/foo'],
  ['uriRegexRewrite replaces every match', { uriRegexRewrite: { match: 'one', rewrite: 'two' } }, undefined, '/xxx/one/yyy/one/zzz', '/xxx/two/yyy/two/zzz'],
  ['uriRegexRewrite non-greedy first match', { uriRegexRewrite: { match: '^(.*?)one(.*)$', rewrite: '\\1two\\2' } }, undefined, '/xxx/one/yyy/one/zzz', '/xxx/two/yyy/one/zzz'],
  ['uriRegexRewrite case-insensitive flag', { uriRegexRewrite: { match: '(?i)/xxx/', rewrite: '/yyy/' } }, undefined, '/aaa/XxX/bbb', '/aaa/yyy/bbb'],
  ['uriRegexRewrite leaves the query alone', { uriRegexRewrite: { match: '/v1/', rewrite: '/v2/' } }, undefined, '/v1/a?next=/v1/b', '/v2/a?next=/v1/b'],
  ['uriRegexRewrite: \\0 is the whole match, $ is literal', { uriRegexRewrite: { match: '[0-9]+', rewrite: '$\\0' } }, undefined, '/item/42', '/item/$42'],
  ['uriRegexRewrite: a digit after a group stays literal', { uriRegexRewrite: { match: '^/(a)$', rewrite: '/\\10' } }, undefined, '/a', '/a0'],
  ['uriRegexRewrite wins over uri (as route.go)', { uri: '/ignored', uriRegexRewrite: { match: '^/a', rewrite: '/b' } }, '/a', '/a/c', '/b/c'],
  ['no path rewrite: the path is left alone', { authority: 'x' }, '/', '/keep?me', '/keep?me'],
];

for (const [name, spec, matchedPrefix, path, expected] of table) {
  test(name, (t) => {
    t.is(compileRewrite(spec, matchedPrefix)(path, 'client.example.com').path, expected);
  });
}

test('authority replaces the Host; without it the client\'s is kept', (t) => {
  t.is(compileRewrite({ authority: 'reviews.internal' }, '/')('/x', 'shop.example.com').authority, 'reviews.internal');
  t.is(compileRewrite({ uri: '/y' }, '/')('/x', 'shop.example.com').authority, 'shop.example.com');
});
