import test from 'ava';
import { buildDownstreamResponseHeaders, buildUpstreamRequestHeaders, displayAddress } from '../../src/upstream/request-headers.js';

const options = { remoteAddress: '203.0.113.7', scheme: 'http', authority: 'shop.example.com' } as const;

test('hop-by-hop request headers stop at the gateway, end-to-end ones pass', (t) => {
  const out = buildUpstreamRequestHeaders(
    {
      host: 'client.example.com',
      connection: 'keep-alive, X-Session-Hop',
      'x-session-hop': 'secret',
      'keep-alive': 'timeout=5',
      'proxy-connection': 'keep-alive',
      'transfer-encoding': 'chunked',
      upgrade: 'h2c',
      expect: '100-continue',
      accept: 'text/html',
      cookie: 'a=1; b=2',
    },
    options,
  );
  t.deepEqual(out, {
    host: 'shop.example.com',
    accept: 'text/html',
    cookie: 'a=1; b=2',
    'x-forwarded-for': '203.0.113.7',
    'x-forwarded-proto': 'http',
  });
});

test('TE is forwarded only as `trailers`, and only when the client listed it', (t) => {
  t.is(buildUpstreamRequestHeaders({ te: 'trailers, deflate;q=0.5' }, options).te, 'trailers');
  t.is(buildUpstreamRequestHeaders({ te: 'trailers;q=1' }, options).te, 'trailers');
  t.false('te' in buildUpstreamRequestHeaders({ te: 'gzip' }, options));
});

test('X-Forwarded-For gains the client address; X-Forwarded-Proto is the listener scheme', (t) => {
  const appended = buildUpstreamRequestHeaders(
    { 'x-forwarded-for': '198.51.100.1, 198.51.100.2', 'x-forwarded-proto': 'https' },
    options,
  );
  t.is(appended['x-forwarded-for'], '198.51.100.1, 198.51.100.2, 203.0.113.7');
  t.is(appended['x-forwarded-proto'], 'http');
  const mapped = buildUpstreamRequestHeaders({}, { ...options, remoteAddress: '::ffff:10.1.2.3', scheme: 'https' });
  t.is(mapped['x-forwarded-for'], '10.1.2.3');
  t.is(mapped['x-forwarded-proto'], 'https');
});

test('x-request-id is forwarded as it came (the handler gives one to a request without)', (t) => {
  t.is(buildUpstreamRequestHeaders({ 'x-request-id': 'abc-123' }, options)['x-request-id'], 'abc-123');
});

test('response headers lose hop-by-hop ones, including those Connection names', (t) => {
  const out = buildDownstreamResponseHeaders({
    connection: 'close, x-backend-hop',
    'x-backend-hop': '1',
    'keep-alive': 'timeout=5',
    'transfer-encoding': 'chunked',
    'content-type': 'application/json',
    'set-cookie': ['a=1', 'b=2'],
  });
  t.deepEqual(out, { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'] });
});

test('displayAddress shows IPv4-mapped IPv6 as IPv4 and leaves real IPv6 alone', (t) => {
  t.is(displayAddress('::ffff:192.0.2.1'), '192.0.2.1');
  t.is(displayAddress('2001:db8::1'), '2001:db8::1');
  t.is(displayAddress(undefined), undefined);
});
