import test from 'ava';
import { compileCors, type CorsPolicySpec } from '../../../src/filters/cors/cors.js';

// Istio docs (CorsPolicy) example.
const istioExample: CorsPolicySpec = {
  allowOrigins: [{ exact: 'https://example.com' }],
  allowMethods: ['POST', 'GET'],
  allowCredentials: false,
  allowHeaders: ['X-Foo-Bar'],
  maxAge: 24 * 60 * 60 * 1000,
};

const preflight = (origin: string | undefined, extra: Record<string, string> = {}) => ({
  method: 'OPTIONS',
  headers: { ...(origin === undefined ? {} : { origin }), 'access-control-request-method': 'POST', ...extra },
});

test('an allowed preflight is answered 200 with the allow-* headers and max-age in seconds', (t) => {
  const answer = compileCors(istioExample).preflight(preflight('https://example.com'));
  t.deepEqual(answer, {
    status: 200,
    headers: {
      'access-control-allow-origin': 'https://example.com',
      'access-control-allow-methods': 'POST,GET',
      'access-control-allow-headers': 'X-Foo-Bar',
      'access-control-max-age': '86400',
    },
  });
});

test('not a preflight: no Origin, not OPTIONS, or no Access-Control-Request-Method', (t) => {
  const cors = compileCors(istioExample);
  t.is(cors.preflight(preflight(undefined)), undefined);
  t.is(cors.preflight({ method: 'GET', headers: { origin: 'https://example.com', 'access-control-request-method': 'POST' } }), undefined);
  t.is(cors.preflight({ method: 'OPTIONS', headers: { origin: 'https://example.com' } }), undefined);
});

test('an unmatched preflight is forwarded by default (FORWARD)', (t) => {
  t.is(compileCors(istioExample).preflight(preflight('https://evil.example')), undefined);
});

test('an unmatched preflight with IGNORE is answered here without allow-origin (as Envoy)', (t) => {
  const answer = compileCors({ ...istioExample, unmatchedPreflights: 'IGNORE' }).preflight(preflight('https://evil.example'));
  t.is(answer?.status, 200);
  t.is(answer?.headers['access-control-allow-origin'], undefined);
  t.is(answer?.headers['access-control-allow-methods'], 'POST,GET');
});

test('allowOrigins are StringMatches: prefix and regex', (t) => {
  const cors = compileCors({ allowOrigins: [{ prefix: 'https://app.' }, { regex: 'https://.*\\.example\\.org' }] });
  t.truthy(cors.responseHeaders('https://app.example.com'));
  t.truthy(cors.responseHeaders('https://shop.example.org'));
  t.is(cors.responseHeaders('https://shop.example.org.evil.com'), undefined, 'the regex matches the whole origin');
  t.is(cors.responseHeaders('http://app.example.com'), undefined);
});

test('an entry matching "*" allows every origin, echoing the origin back', (t) => {
  const cors = compileCors({ allowOrigins: [{ exact: '*' }] });
  t.deepEqual(cors.responseHeaders('https://anyone.example'), { 'access-control-allow-origin': 'https://anyone.example' });
});

test('responses to allowed origins get allow-origin, credentials and expose-headers; others nothing', (t) => {
  const cors = compileCors({ ...istioExample, allowCredentials: true, exposeHeaders: ['X-Trace', 'X-Cost'] });
  t.deepEqual(cors.responseHeaders('https://example.com'), {
    'access-control-allow-origin': 'https://example.com',
    'access-control-allow-credentials': 'true',
    'access-control-expose-headers': 'X-Trace,X-Cost',
  });
  t.is(cors.responseHeaders('https://evil.example'), undefined);
  t.is(cors.responseHeaders(undefined), undefined);
  t.is(cors.responseHeaders(''), undefined);
});

test('allowMethods/allowHeaders "*" echo what the preflight asked for', (t) => {
  const cors = compileCors({ allowOrigins: [{ exact: 'https://example.com' }], allowMethods: ['*'], allowHeaders: ['*'] });
  const answer = cors.preflight(preflight('https://example.com', { 'access-control-request-headers': 'x-a,x-b' }));
  t.is(answer?.headers['access-control-allow-methods'], 'POST');
  t.is(answer?.headers['access-control-allow-headers'], 'x-a,x-b');
});

test('max-age counts whole seconds, as Istio truncates the Duration', (t) => {
  const answer = compileCors({ allowOrigins: [{ exact: 'https://example.com' }], maxAge: 1500 }).preflight(preflight('https://example.com'));
  t.is(answer?.headers['access-control-max-age'], '1');
});
