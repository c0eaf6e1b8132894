import test from 'ava';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { createRouteTable, type VirtualHostInput } from '../../src/routing/route-table.js';
import { compileHttpMatches, type HttpMatchRequestSpec } from '../../src/routing/request-match.js';
import { createRequestView, type RequestView } from '../../src/routing/request-view.js';

interface TestRoute {
  readonly name: string;
  match(req: RequestView): boolean;
}

function route(name: string, match?: HttpMatchRequestSpec[]): TestRoute {
  return { name, match: compileHttpMatches(match, { namespace: 'bookinfo', gateway: 'bookinfo/gw' }) };
}

function vhost(name: string, domains: string[], routes: TestRoute[] = [route(`${name}-all`)]): VirtualHostInput<TestRoute> {
  return { name, domains, routes };
}

function view(url: string, host: string, headers: Record<string, string> = {}): RequestView {
  return createRequestView({ method: 'GET', url, headers: { host, ...headers }, scheme: 'http', port: 80 });
}

// Envoy's search order, with a name for each tier.
const ordered = createRouteTable([
  vhost('exact', ['www.foo.com']),
  vhost('suffix-short', ['*.com']),
  vhost('suffix-long', ['*.foo.com']),
  vhost('suffix-dash', ['*-bar.foo.com']),
  vhost('prefix-short', ['api.*']),
  vhost('prefix-long', ['api.foo.*']),
  vhost('any', ['*']),
]);

const lookups: [host: string, virtualHost: string][] = [
  ['www.foo.com', 'exact'],
  ['WWW.Foo.Com', 'exact'],
  ['www.foo.com:8080', 'exact'],
  ['a.foo.com', 'suffix-long'],
  ['a.b.foo.com', 'suffix-long'],
  ['baz-bar.foo.com', 'suffix-dash'],
  // The wildcard never matches the empty string: `-bar.foo.com` is not `*-bar.foo.com`.
  ['-bar.foo.com', 'suffix-long'],
  ['foo.com', 'suffix-short'],
  ['example.com', 'suffix-short'],
  ['api.foo.org', 'prefix-long'],
  ['api.bar.org', 'prefix-short'],
  ['api.', 'any'],
  ['other.org', 'any'],
  ['', 'any'],
  ['[::1]:8080', 'any'],
  // Envoy keeps a trailing dot: `www.foo.com.` is not the exact domain.
  ['www.foo.com.', 'any'],
];

for (const [host, expected] of lookups) {
  test(`Host ${JSON.stringify(host)} selects virtual host ${expected}`, (t) => {
    t.is(ordered.findVirtualHost(host)?.name, expected);
  });
}

test('without a `*` virtual host an unknown Host has none', (t) => {
  const table = createRouteTable([vhost('bookinfo', ['bookinfo.com'])]);
  t.is(table.findVirtualHost('other.com'), undefined);
  t.is(table.route(view('/', 'other.com')), undefined);
});

test('an IPv6 literal domain matches its Host with or without port', (t) => {
  const table = createRouteTable([vhost('v6', ['[::1]']), vhost('any', ['*'])]);
  t.is(table.findVirtualHost('[::1]:8080')?.name, 'v6');
  t.is(table.findVirtualHost('[::1]')?.name, 'v6');
});

test('a domain listed by two virtual hosts is refused, whatever its case', (t) => {
  const error = t.throws(() => createRouteTable([vhost('a', ['foo.com']), vhost('b', ['FOO.com'])]));
  t.regex(error.message, /"foo\.com".*"a".*"b"/);
  t.throws(() => createRouteTable([vhost('a', ['*']), vhost('b', ['*'])]));
});

test('an empty domain is refused', (t) => {
  t.throws(() => createRouteTable([vhost('a', [''])]), { message: /empty domain/ });
});

// The bookinfo VirtualService of Istio's docs, as one virtual host.
const bookinfo = createRouteTable([
  vhost('bookinfo', ['bookinfo.com'], [
    route('reviews-jason', [{ uri: { prefix: '/reviews' }, headers: { 'end-user': { exact: 'jason' } } }]),
    route('productpage', [
      { uri: { exact: '/productpage' } },
      { uri: { prefix: '/static' } },
      { uri: { exact: '/login' } },
      { uri: { exact: '/logout' } },
      { uri: { prefix: '/api/v1/products' } },
    ]),
    route('reviews-v1', [{ uri: { regex: '/reviews/[0-9]+' } }]),
    route('products-ci', [{ uri: { prefix: '/Products' }, ignoreUriCase: true }]),
  ]),
  vhost('fallback', ['*'], [route('fallback-all')]),
]);

const routed: [url: string, host: string, headers: Record<string, string>, expected: string | undefined][] = [
  ['/productpage', 'bookinfo.com', {}, 'productpage'],
  ['/productpage?u=normal', 'BOOKINFO.com:8080', {}, 'productpage'],
  ['/static/css/app.css', 'bookinfo.com', {}, 'productpage'],
  ['/login', 'bookinfo.com', {}, 'productpage'],
  ['/logout', 'bookinfo.com', {}, 'productpage'],
  ['/api/v1/products/1/reviews', 'bookinfo.com', {}, 'productpage'],
  // First match wins: jason's /reviews route comes before the regex route.
  ['/reviews/1', 'bookinfo.com', { 'end-user': 'jason' }, 'reviews-jason'],
  ['/reviews/1', 'bookinfo.com', { 'end-user': 'mike' }, 'reviews-v1'],
  ['/reviews/x', 'bookinfo.com', {}, undefined],
  ['/PRODUCTS/all', 'bookinfo.com', {}, 'products-ci'],
  ['/nowhere', 'bookinfo.com', {}, undefined],
  ['/productpage', 'unknown.com', {}, 'fallback-all'],
  ['/productpage', '', {}, 'fallback-all'],
];

for (const [url, host, headers, expected] of routed) {
  test(`bookinfo: ${host || '(no Host)'} ${url} ${JSON.stringify(headers)} -> ${expected ?? '404 NR'}`, (t) => {
    t.is(bookinfo.route(view(url, host, headers))?.name, expected);
  });
}

test('route() returns the route object it was given, the same one every time', (t) => {
  const first = bookinfo.route(view('/login', 'bookinfo.com'));
  t.is(first, bookinfo.findVirtualHost('bookinfo.com')?.routes.find((route) => route.name === 'productpage'));
  t.is(first, bookinfo.route(view('/logout', 'bookinfo.com:80')));
});

test('served over a real socket: Host header and path from the wire pick the route', async (t) => {
  let port = 0;
  const server: Server = createServer((req, res) => {
    const found = bookinfo.route(
      createRequestView({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, scheme: 'http', port }),
    );
    res.statusCode = found === undefined ? 404 : 200;
    res.end(found?.name ?? 'NR');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const get = async (path: string, headers: Record<string, string>) => {
    const response = await request(`http://127.0.0.1:${port}${path}`, { headers });
    return `${response.statusCode} ${await response.body.text()}`;
  };
  t.is(await get('/productpage', { host: `BookInfo.com:${port}` }), '200 productpage');
  t.is(await get('/reviews/3', { host: 'bookinfo.com', 'end-user': 'jason' }), '200 reviews-jason');
  t.is(await get('/unknown', { host: 'bookinfo.com' }), '404 NR');
  t.is(await get('/unknown', { host: '[::1]:8080' }), '200 fallback-all');
});
