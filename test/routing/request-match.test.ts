import test from 'ava';
import type { IncomingHttpHeaders } from 'node:http';
import {
  compileHttpMatch,
  compileHttpMatches,
  resolveGatewayName,
  type HttpMatchRequestSpec,
} from '../../src/routing/request-match.js';
import { createRequestView, type RequestView } from '../../src/routing/request-view.js';

interface RequestShape {
  method?: string;
  url?: string;
  headers?: IncomingHttpHeaders;
  scheme?: 'http' | 'https';
  port?: number;
}

function req(shape: RequestShape = {}): RequestView {
  return createRequestView({
    method: shape.method ?? 'GET',
    url: shape.url ?? '/',
    headers: { host: 'bookinfo.com', ...shape.headers },
    scheme: shape.scheme ?? 'http',
    port: shape.port ?? 80,
  });
}

const context = { namespace: 'bookinfo', gateway: 'bookinfo/bookinfo-gateway' };

type Case = [description: string, spec: HttpMatchRequestSpec, request: RequestShape, expected: boolean];
type GatewayCase = [description: string, spec: HttpMatchRequestSpec, gateway: string, expected: boolean];

function table(field: string, cases: Case[]): void {
  for (const [description, spec, request, expected] of cases) {
    test(`${field}: ${description}`, (t) => {
      t.is(compileHttpMatch(spec, context)(req(request)), expected);
    });
  }
}

table('uri', [
  ['exact /productpage matches it', { uri: { exact: '/productpage' } }, { url: '/productpage' }, true],
  ['exact ignores the query', { uri: { exact: '/productpage' } }, { url: '/productpage?u=1' }, true],
  ['exact does not match a longer path', { uri: { exact: '/productpage' } }, { url: '/productpage/' }, false],
  ['exact is case-sensitive', { uri: { exact: '/productpage' } }, { url: '/ProductPage' }, false],
  ['prefix /static matches below it', { uri: { prefix: '/static' } }, { url: '/static/app.css' }, true],
  // Istio's VirtualService prefix is Envoy's plain string prefix, not a path-separated one.
  ['prefix /static matches /staticfoo too', { uri: { prefix: '/static' } }, { url: '/staticfoo' }, true],
  ['prefix does not match a shorter path', { uri: { prefix: '/static' } }, { url: '/stat' }, false],
  ['prefix /api/v1/products matches an id', { uri: { prefix: '/api/v1/products' } }, { url: '/api/v1/products/0' }, true],
  ['prefix is matched without the query', { uri: { prefix: '/a?b' } }, { url: '/a?b=1' }, false],
  ['regex matches the whole path', { uri: { regex: '/reviews/[0-9]+' } }, { url: '/reviews/12?x=1' }, true],
  ['regex is anchored at both ends', { uri: { regex: '/reviews/[0-9]+' } }, { url: '/reviews/12/ratings' }, false],
  ['no uri is Envoy\'s prefix "/" and matches any path', {}, { url: '/anything' }, true],
  ['`uri: {}` is the same as no uri', { uri: {} }, { url: '/anything' }, true],
  ['no uri does not match OPTIONS *', {}, { method: 'OPTIONS', url: '*' }, false],
]);

table('ignoreUriCase', [
  ['applies to exact', { uri: { exact: '/productpage' }, ignoreUriCase: true }, { url: '/ProductPage' }, true],
  ['applies to prefix', { uri: { prefix: '/static' }, ignoreUriCase: true }, { url: '/STATIC/x' }, true],
  ['is ignored for regex (Istio: exact and prefix only)', { uri: { regex: '/static/.*' }, ignoreUriCase: true }, { url: '/STATIC/x' }, false],
  ['does not reach headers', { uri: { prefix: '/' }, headers: { 'end-user': { exact: 'jason' } }, ignoreUriCase: true }, { headers: { 'end-user': 'Jason' } }, false],
]);

table('headers', [
  ['bookinfo `end-user: exact: jason` matches jason', { headers: { 'end-user': { exact: 'jason' } } }, { headers: { 'end-user': 'jason' } }, true],
  ['... not Jason (values are case-sensitive)', { headers: { 'end-user': { exact: 'jason' } } }, { headers: { 'end-user': 'Jason' } }, false],
  ['... not a request without the header', { headers: { 'end-user': { exact: 'jason' } } }, {}, false],
  ['names are lower-cased (Envoy matches header names case-insensitively)', { headers: { 'End-User': { exact: 'jason' } } }, { headers: { 'end-user': 'jason' } }, true],
  ['`{}` means present', { headers: { 'x-canary': {} } }, { headers: { 'x-canary': '' } }, true],
  ['`{}` does not match an absent header', { headers: { 'x-canary': {} } }, {}, false],
  ['regex "*" means present (istio/istio#20629)', { headers: { 'x-canary': { regex: '*' } } }, { headers: { 'x-canary': 'anything' } }, true],
  ['prefix', { headers: { cookie: { prefix: 'user=' } } }, { headers: { cookie: 'user=jason; theme=dark' } }, true],
  // The cookie regex of Istio's VirtualService docs.
  ['regex matches the whole value', { headers: { cookie: { regex: '^(.*?;)?(user=jason)(;.*)?$' } } }, { headers: { cookie: 'theme=dark;user=jason' } }, true],
  ['regex that the value does not fit', { headers: { cookie: { regex: '^(.*?;)?(user=jason)(;.*)?$' } } }, { headers: { cookie: 'user=jasonx' } }, false],
  ['regex on an absent header does not match even `.*`', { headers: { 'x-a': { regex: '.*' } } }, {}, false],
  ['all entries must match', { headers: { a: { exact: '1' }, b: { exact: '2' } } }, { headers: { a: '1', b: '3' } }, false],
  ['all entries matching', { headers: { a: { exact: '1' }, b: { exact: '2' } } }, { headers: { a: '1', b: '2' } }, true],
  ['a header Node keeps as several values is matched joined by \',\' as Envoy joins them', { headers: { 'x-a': { exact: '1,2' } } }, { headers: { 'x-a': ['1', '2'] } }, true],
  ['`host` is the authority', { headers: { host: { exact: 'bookinfo.com:8080' } } }, { headers: { host: 'bookinfo.com:8080' } }, true],
  ['JWT claim headers never match without a JWT filter', { headers: { '@request.auth.claims.group': { exact: 'admin' } } }, { headers: { '@request.auth.claims.group': 'admin' } }, false],
]);

table('withoutHeaders', [
  ['`{}` means absent: absent header matches', { withoutHeaders: { 'x-debug': {} } }, {}, true],
  ['`{}` means absent: present header does not', { withoutHeaders: { 'x-debug': {} } }, { headers: { 'x-debug': '' } }, false],
  ['exact inverted: other value matches', { withoutHeaders: { 'end-user': { exact: 'jason' } } }, { headers: { 'end-user': 'mike' } }, true],
  ['exact inverted: that value does not', { withoutHeaders: { 'end-user': { exact: 'jason' } } }, { headers: { 'end-user': 'jason' } }, false],
  ['a missing header is \'\' (treat_missing_header_as_empty): exact inverted matches', { withoutHeaders: { 'end-user': { exact: 'jason' } } }, {}, true],
  ['a missing header is \'\': regex `.*` inverted does not match', { withoutHeaders: { 'end-user': { regex: '.*' } } }, {}, false],
  ['a missing header is \'\': exact \'\' inverted does not match', { withoutHeaders: { 'end-user': { exact: '' } } }, {}, false],
  ['combined with headers', { headers: { 'end-user': { prefix: 'j' } }, withoutHeaders: { 'end-user': { exact: 'jason' } } }, { headers: { 'end-user': 'jane' } }, true],
  ['JWT claim entries always pass without a JWT filter', { withoutHeaders: { '@request.auth.claims.group': { exact: 'admin' } } }, {}, true],
]);

table('queryParams', [
  ['`?key=true` with exact "true"', { queryParams: { key: { exact: 'true' } } }, { url: '/?key=true' }, true],
  ['`?key` with exact ""', { queryParams: { key: { exact: '' } } }, { url: '/?key' }, true],
  ['`?key=` with exact ""', { queryParams: { key: { exact: '' } } }, { url: '/?key=' }, true],
  ['`?key=123` with regex "\\d+$"', { queryParams: { key: { regex: '\\d+$' } } }, { url: '/?key=123' }, true],
  ['regex "\\d+$" does not match "a123" (Istio docs)', { queryParams: { key: { regex: '\\d+$' } } }, { url: '/?key=a123' }, false],
  ['regex "\\d+$" does not match "123a" (Istio docs)', { queryParams: { key: { regex: '\\d+$' } } }, { url: '/?key=123a' }, false],
  ['prefix, as istiod passes it to Envoy', { queryParams: { v: { prefix: 'beta' } } }, { url: '/?v=beta-2' }, true],
  ['`{}` means present', { queryParams: { debug: {} } }, { url: '/?debug' }, true],
  ['`{}` does not match without the parameter', { queryParams: { debug: {} } }, { url: '/?other=1' }, false],
  ['exact does not match without a query', { queryParams: { key: { exact: '' } } }, { url: '/' }, false],
  ['the first of repeated keys is matched', { queryParams: { key: { exact: '2' } } }, { url: '/?key=1&key=2' }, false],
  ['names are case-sensitive', { queryParams: { Key: { exact: '1' } } }, { url: '/?key=1' }, false],
  ['values are compared raw, not decoded', { queryParams: { q: { exact: 'a b' } } }, { url: '/?q=a%20b' }, false],
]);

table('method', [
  ['exact GET', { method: { exact: 'GET' } }, { method: 'GET' }, true],
  ['exact GET is not POST', { method: { exact: 'GET' } }, { method: 'POST' }, false],
  ['regex GET|HEAD', { method: { regex: 'GET|HEAD' } }, { method: 'HEAD' }, true],
  ['`{}` is any method', { method: {} }, { method: 'DELETE' }, true],
]);

table('authority', [
  ['is the Host header as sent, port included', { authority: { exact: 'bookinfo.com:8080' } }, { headers: { host: 'bookinfo.com:8080' } }, true],
  ['exact without port does not match a Host with one', { authority: { exact: 'bookinfo.com' } }, { headers: { host: 'bookinfo.com:8080' } }, false],
  ['prefix', { authority: { prefix: 'bookinfo.com' } }, { headers: { host: 'bookinfo.com:8080' } }, true],
  ['regex', { authority: { regex: '.*\\.bookinfo\\.com' } }, { headers: { host: 'uk.bookinfo.com' } }, true],
  ['is case-sensitive like any header value', { authority: { exact: 'bookinfo.com' } }, { headers: { host: 'BookInfo.com' } }, false],
  ['an empty Host is absent', { authority: {} }, { headers: { host: '' } }, false],
]);

table('scheme', [
  ['exact https on TLS', { scheme: { exact: 'https' } }, { scheme: 'https' }, true],
  ['exact https on plain http', { scheme: { exact: 'https' } }, { scheme: 'http' }, false],
]);

table('port', [
  ['applies on its listener port', { port: 8080, uri: { prefix: '/' } }, { port: 8080 }, true],
  ['does not apply on another port', { port: 8080 }, { port: 80 }, false],
  ['0 is unset', { port: 0 }, { port: 80 }, true],
]);

// The gateway is the one whose routes are being compiled: a block either applies to it or never matches.
const gatewayCases: GatewayCase[] = [
  ['a short name resolves in the VirtualService namespace', { gateways: ['bookinfo-gateway'] }, 'bookinfo/bookinfo-gateway', true],
  ['a short name does not match a same-named Gateway elsewhere', { gateways: ['bookinfo-gateway'] }, 'other/bookinfo-gateway', false],
  ['ns/name', { gateways: ['istio-system/ingress'] }, 'istio-system/ingress', true],
  ['any of several', { gateways: ['mesh', 'istio-system/ingress', 'other'] }, 'istio-system/ingress', true],
  ['only `mesh` never applies at a gateway', { gateways: ['mesh'] }, 'bookinfo/mesh', false],
  ['with gateways set, sourceLabels are not consulted (istiod)', { gateways: ['bookinfo-gateway'], sourceLabels: { app: 'reviews' } }, 'bookinfo/bookinfo-gateway', true],
  ['`[]` is no constraint', { gateways: [] }, 'other/any', true],
];
for (const [description, spec, gateway, expected] of gatewayCases) {
  test(`gateways: ${description}`, (t) => {
    t.is(compileHttpMatch(spec, { namespace: 'bookinfo', gateway })(req()), expected);
  });
}

table('sourceLabels and sourceNamespace', [
  ['sourceLabels select client workloads: the block never applies at a gateway', { sourceLabels: { app: 'reviews' } }, {}, false],
  ['sourceNamespace likewise', { sourceNamespace: 'bookinfo' }, {}, false],
  ['empty sourceLabels constrain nothing', { sourceLabels: {} }, {}, true],
]);

table('name and statPrefix', [
  ['do not affect matching', { name: 'named', statPrefix: 'stats' }, {}, true],
]);

test('compileHttpMatches: blocks are ORed, fields in a block ANDed', (t) => {
  // The bookinfo productpage route of Istio's docs.
  const productpage = compileHttpMatches(
    [
      { uri: { exact: '/productpage' } },
      { uri: { prefix: '/static' } },
      { uri: { exact: '/login' } },
      { uri: { exact: '/logout' } },
      { uri: { prefix: '/api/v1/products' } },
    ],
    context,
  );
  for (const url of ['/productpage', '/static/img.png', '/login', '/logout', '/api/v1/products/1']) {
    t.true(productpage(req({ url })), url);
  }
  for (const url of ['/', '/productpage/x', '/loginx', '/api/v1/reviews']) t.false(productpage(req({ url })), url);

  const both = compileHttpMatches([{ uri: { prefix: '/a' }, method: { exact: 'POST' } }], context);
  t.true(both(req({ url: '/a', method: 'POST' })));
  t.false(both(req({ url: '/a', method: 'GET' })));
});

test('compileHttpMatches: no blocks accepts every request (a path starting with "/")', (t) => {
  t.true(compileHttpMatches(undefined, context)(req({ url: '/x', method: 'PATCH' })));
  t.true(compileHttpMatches([], context)(req({ url: '/' })));
});

test('compileHttpMatches: when every block is dropped (port, gateways) the route matches nothing, it is not a catch-all', (t) => {
  const dropped = compileHttpMatches([{ port: 9999 }, { gateways: ['mesh'] }], context);
  t.false(dropped(req({ url: '/' })));
});

test('a regex RE2 refuses fails at compile time', (t) => {
  t.throws(() => compileHttpMatch({ uri: { regex: '(a)\\1' } }, context));
});

const gatewayNames: [reference: string, expected: string][] = [
  ['bookinfo-gateway', 'bookinfo/bookinfo-gateway'],
  ['./bookinfo-gateway', 'bookinfo/bookinfo-gateway'],
  ['istio-system/ingress', 'istio-system/ingress'],
  ['ingress.istio-system.svc.cluster.local', 'istio-system/ingress'],
  ['ingress.istio-system', 'istio-system/ingress'],
];

for (const [reference, expected] of gatewayNames) {
  test(`resolveGatewayName(${JSON.stringify(reference)}) in namespace bookinfo is ${expected}`, (t) => {
    t.is(resolveGatewayName(reference, 'bookinfo'), expected);
  });
}
