import test from 'ava';
import { compileHashKey, type HashKeyRequest } from '../../../src/upstream/lb/hash-key.js';
import { createLoadBalancer } from '../../../src/upstream/lb/index.js';

const request = (overrides: Partial<HashKeyRequest> = {}): HashKeyRequest => ({
  headers: {},
  remoteAddress: '192.0.2.7',
  query: '',
  ...overrides,
});

test('httpHeaderName: the header value, matched case-insensitively; repeated values in any order give one key', (t) => {
  const hashKey = compileHashKey({ httpHeaderName: 'X-User' });
  t.deepEqual(hashKey(request({ headers: { 'x-user': 'alice' } })), { key: 'alice' });
  t.is(hashKey(request({ headers: { 'x-other': 'alice' } })).key, undefined);
  const ab = hashKey(request({ headers: { 'x-user': ['a', 'b'] } })).key;
  t.is(hashKey(request({ headers: { 'x-user': ['b', 'a'] } })).key, ab);
  t.not(ab, undefined);
});

test('useSourceIp: the downstream address', (t) => {
  const hashKey = compileHashKey({ useSourceIp: true });
  t.deepEqual(hashKey(request({ remoteAddress: '2001:db8::1' })), { key: '2001:db8::1' });
  t.is(hashKey(request({ remoteAddress: '' })).key, undefined);
});

test('httpQueryParameterName: the first value as sent, with or without the "?"', (t) => {
  const hashKey = compileHashKey({ httpQueryParameterName: 'session' });
  t.deepEqual(hashKey(request({ query: 'a=1&session=s%201&session=s2' })), { key: 's%201' });
  t.deepEqual(hashKey(request({ query: '?session=x' })), { key: 'x' });
  t.deepEqual(hashKey(request({ query: 'session' })), { key: '' });
  t.is(hashKey(request({ query: 'sessions=1&xsession=2' })).key, undefined);
  t.is(hashKey(request({ query: '' })).key, undefined);
});

test('httpCookie: the cookie value among others, quotes removed; absent or empty without ttl gives no key', (t) => {
  const hashKey = compileHashKey({ httpCookie: { name: 'sticky' } });
  t.deepEqual(hashKey(request({ headers: { cookie: 'a=1; sticky="abc"; b=2' } })), { key: 'abc' });
  t.deepEqual(hashKey(request({ headers: { cookie: 'sticky=v1' } })), { key: 'v1' });
  t.deepEqual(hashKey(request({ headers: { cookie: 'notsticky=1; sticky=' } })), { key: undefined });
  t.deepEqual(hashKey(request({ headers: { cookie: 'other=1' } })), { key: undefined });
  t.deepEqual(hashKey(request()), { key: undefined });
});

test('httpCookie with ttl: an absent cookie is generated, keyed on, and sent as Envoy sends it', (t) => {
  const hashKey = compileHashKey({ httpCookie: { name: 'sticky', path: '/app', ttl: 3_600_000 } });
  const first = hashKey(request());
  t.regex(first.key ?? '', /^[0-9a-f]{16}$/);
  t.is(first.setCookie, `sticky="${first.key}"; Max-Age=3600; Path=/app; HttpOnly`);
  const second = hashKey(request());
  t.not(second.key, first.key);
  // The client sends it back: same key, no new cookie.
  t.deepEqual(hashKey(request({ headers: { cookie: `sticky="${first.key}"` } })), { key: first.key });
});

test('httpCookie with a zero ttl generates a session cookie (no Max-Age); no path, no Path', (t) => {
  const generated = compileHashKey({ httpCookie: { name: 's', ttl: 0 } })(request());
  t.is(generated.setCookie, `s="${generated.key}"; HttpOnly`);
});

test('a generated cookie keeps its client on one endpoint', (t) => {
  const consistentHash = { httpCookie: { name: 'sticky', ttl: 60_000 } };
  const hashKey = compileHashKey(consistentHash);
  const endpoints = [1, 2, 3, 4].map((n) => ({ address: `10.0.0.${n}`, port: 80, labels: {}, weight: 1 }));
  const balancer = createLoadBalancer({ consistentHash }, endpoints);
  const { key, setCookie } = hashKey(request());
  const cookie = setCookie!.split(';')[0]!;
  const firstPick = balancer.pick({ hashKey: key! });
  for (let i = 0; i < 20; i++) {
    t.is(balancer.pick({ hashKey: hashKey(request({ headers: { cookie } })).key! }), firstPick);
  }
});

test('settings without a key source (only the ring size) give no key', (t) => {
  t.deepEqual(compileHashKey({ ringHash: { minimumRingSize: 2048 } })(request({ headers: { 'x-user': 'a' } })), { key: undefined });
});
