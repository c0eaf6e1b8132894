import test from 'ava';
import { createOtelTracer } from '../../src/observability/otel-tracer.js';

// Unsampled requests never reach the SDK, and still hand the upstream a trace to join.

test('sampling 0: a new trace goes upstream unsampled, with fresh ids in W3C and B3 form', async (t) => {
  const tracer = createOtelTracer({ endpoint: 'http://127.0.0.1:9/v1/traces', sampling: 0 }, 'test');
  t.teardown(() => tracer.shutdown());
  const headers: Record<string, string | string[] | undefined> = {};
  const request = tracer.start('GET', 'shop.test', '/cart?x=1', headers);
  request.inject(headers);
  request.end(200, undefined, undefined);
  const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-00$/.exec(String(headers.traceparent));
  t.truthy(match);
  t.is(headers['x-b3-traceid'], match![1]);
  t.is(headers['x-b3-sampled'], '0');
  const other: Record<string, string> = {};
  tracer.start('GET', 'shop.test', '/', other).inject(other);
  t.not(other['x-b3-traceid'], headers['x-b3-traceid'], 'each request its own trace');
});

test('sampling 0 does not override a client that asked for sampling', async (t) => {
  const tracer = createOtelTracer({ endpoint: 'http://127.0.0.1:9/v1/traces', sampling: 0 }, 'test');
  t.teardown(() => tracer.shutdown());
  const headers: Record<string, string> = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' };
  tracer.start('GET', 'shop.test', '/', headers).inject(headers);
  t.regex(headers.traceparent!, /^00-4bf92f3577b34da6a3ce929d0e0e4736-(?!00f067aa0ba902b7)[0-9a-f]{16}-01$/);
});
