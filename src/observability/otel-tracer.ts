import type { IncomingHttpHeaders } from 'node:http';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace, type Span } from '@opentelemetry/api';
import { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, RandomIdGenerator } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_SERVICE_NAME, ATTR_URL_PATH } from '@opentelemetry/semantic-conventions';
import { readTraceContext, writeTraceHeaders, type TraceContext } from './trace-context.js';
import type { RequestTrace, TracingSettings } from './tracing.js';

// OpenTelemetry's SDK behind tracing.ts: one tracer provider per worker and settings, exporting
// batches over OTLP/HTTP (JSON). Loaded only when tracing is configured: the SDK takes a few
// hundred milliseconds to import, which a worker without tracing should not pay at start.
// The sampling decision comes first: an unsampled request (99% at Istio's default) only gets
// ids for the upstream's headers, and never an SDK span, which would record nothing anyway.

export interface OtelTracer {
  start(method: string, authority: string, path: string, headers: IncomingHttpHeaders): RequestTrace;
  shutdown(): Promise<void>;
}

/** Spans leave in batches once a second (Envoy's OpenTelemetry tracer batches too). */
const exportDelayMs = 1000;

export function createOtelTracer(settings: TracingSettings, serviceName: string): OtelTracer {
  const ids = new RandomIdGenerator();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName }),
    // Only sampled requests reach the SDK.
    sampler: new AlwaysOnSampler(),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: settings.endpoint }), { scheduledDelayMillis: exportDelayMs })],
  });
  const tracer = provider.getTracer('meshgate');
  return {
    start(method, authority, path, headers) {
      const client = readTraceContext(headers);
      // The client's decision when it made one; else (a new trace, or B3 leaving it to the gateway) `sampling`.
      const sampled = client?.sampled ?? Math.random() * 100 < settings.sampling;
      if (!sampled) return unsampled(client?.traceId ?? ids.generateTraceId(), ids.generateSpanId(), client);
      const parent =
        client === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, { traceId: client.traceId, spanId: client.spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true });
      const query = path.indexOf('?');
      const span = tracer.startSpan(
        `${authority}${query === -1 ? path : path.slice(0, query)}`,
        { kind: SpanKind.SERVER, attributes: { [ATTR_HTTP_REQUEST_METHOD]: method, [ATTR_URL_PATH]: path, 'guid:x-request-id': String(headers['x-request-id']) } },
        parent,
      );
      return createRequestTrace(span, client);
    },
    shutdown: () => provider.shutdown(),
  };
}

/** A request the gateway traces without recording: the upstream still sees its span as the parent. */
function unsampled(traceId: string, spanId: string, client: TraceContext | undefined): RequestTrace {
  return {
    inject: (headers) => writeTraceHeaders(headers, traceId, spanId, false, client),
    end: () => undefined,
  };
}

function createRequestTrace(span: Span, client: TraceContext | undefined): RequestTrace {
  return {
    inject(headers) {
      const context = span.spanContext();
      writeTraceHeaders(headers, context.traceId, context.spanId, (context.traceFlags & TraceFlags.SAMPLED) !== 0, client);
    },
    end(status, flags, cluster) {
      // Istio's span tags: the status, Envoy's response flags, the upstream cluster.
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
      if (flags !== undefined) span.setAttribute('response_flags', flags);
      if (cluster !== undefined) span.setAttribute('upstream_cluster', cluster);
      if (status === 0 || status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    },
  };
}
