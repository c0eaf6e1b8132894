import test from 'ava';
import { readTraceContext, writeTraceHeaders } from '../../src/observability/trace-context.js';
import { tracingSettingsOf } from '../../src/observability/tracing.js';
import { MeshConfigSpec } from '../../src/config/kinds/mesh-config.js';

const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const spanId = '00f067aa0ba902b7';

test('traceparent is read first; a version ff, all-zero ids or a bad layout are no context', (t) => {
  t.like(readTraceContext({ traceparent: `00-${traceId}-${spanId}-01`, 'x-b3-traceid': 'ffffffffffffffff', 'x-b3-spanid': spanId }), { traceId, spanId, sampled: true, format: 'w3c' });
  t.is(readTraceContext({ traceparent: `ff-${traceId}-${spanId}-01` }), undefined);
  t.is(readTraceContext({ traceparent: `00-${'0'.repeat(32)}-${spanId}-01` }), undefined);
  t.is(readTraceContext({ traceparent: 'garbage' }), undefined);
  t.is(readTraceContext({}), undefined);
});

test('B3: a sampled flag of 1/true/0/false or none (the gateway decides), debug flags sample; single b3 with d', (t) => {
  t.like(readTraceContext({ 'x-b3-traceid': traceId, 'x-b3-spanid': spanId, 'x-b3-sampled': 'true' }), { sampled: true, format: 'b3', shortTraceId: false });
  t.like(readTraceContext({ 'x-b3-traceid': traceId, 'x-b3-spanid': spanId, 'x-b3-sampled': '0' }), { sampled: false });
  t.like(readTraceContext({ 'x-b3-traceid': traceId, 'x-b3-spanid': spanId, 'x-b3-flags': '1' }), { sampled: true });
  t.is(readTraceContext({ 'x-b3-traceid': traceId, 'x-b3-spanid': spanId })?.sampled, undefined);
  t.like(readTraceContext({ 'x-b3-traceid': 'a3ce929d0e0e4736', 'x-b3-spanid': spanId }), { traceId: `${'0'.repeat(16)}a3ce929d0e0e4736`, shortTraceId: true });
  t.is(readTraceContext({ 'x-b3-traceid': traceId }), undefined, 'no span id');
  t.like(readTraceContext({ b3: `${traceId}-${spanId}-d` }), { sampled: true, format: 'b3-single' });
  t.is(readTraceContext({ b3: '0' }), undefined, 'b3: 0 (deny) carries no ids');
});

test('written headers name the gateway span as parent in the client\'s form; a new trace gets W3C and B3', (t) => {
  const gatewaySpan = '1111111111111111';
  const b3 = { 'x-b3-traceid': traceId, 'x-b3-spanid': spanId, 'x-b3-flags': '1' };
  const headers: Record<string, string> = { ...b3 };
  writeTraceHeaders(headers, traceId, gatewaySpan, true, readTraceContext(b3));
  t.deepEqual(headers, {
    traceparent: `00-${traceId}-${gatewaySpan}-01`,
    'x-b3-traceid': traceId,
    'x-b3-spanid': gatewaySpan,
    'x-b3-sampled': '1',
    'x-b3-parentspanid': spanId,
  });
  const fresh: Record<string, string> = {};
  writeTraceHeaders(fresh, traceId, gatewaySpan, false, undefined);
  t.deepEqual(fresh, { traceparent: `00-${traceId}-${gatewaySpan}-00`, 'x-b3-traceid': traceId, 'x-b3-spanid': gatewaySpan, 'x-b3-sampled': '0' });
});

test('tracing is on only with enableTracing and a default provider; the endpoint is the provider\'s OTLP/HTTP URL', (t) => {
  const provider = { extensionProviders: [{ name: 'otel', opentelemetry: { service: 'collector.local', port: 4318 } }] };
  t.is(tracingSettingsOf(MeshConfigSpec.parse({})), undefined);
  t.is(tracingSettingsOf(MeshConfigSpec.parse(provider)), undefined, 'a provider nobody selects');
  t.deepEqual(tracingSettingsOf(MeshConfigSpec.parse({ ...provider, defaultProviders: { tracing: ['otel'] } })), { endpoint: 'http://collector.local:4318/v1/traces', sampling: 1 });
  t.is(tracingSettingsOf(MeshConfigSpec.parse({ ...provider, defaultProviders: { tracing: ['otel'] }, enableTracing: false })), undefined);
});
