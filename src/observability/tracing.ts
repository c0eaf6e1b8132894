import type { IncomingHttpHeaders } from 'node:http';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace, type Span, type Tracer } from '@opentelemetry/api';
import { BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_SERVICE_NAME, ATTR_URL_PATH } from '@opentelemetry/semantic-conventions';
import type { MeshConfigSpec } from '../config/kinds/mesh-config.js';
import { readTraceContext, writeTraceHeaders, type TraceContext } from './trace-context.js';

// The gateway's span per request, exported with OpenTelemetry's SDK over OTLP/HTTP (JSON) to
// the collector of the MeshConfig's default tracing provider. As Envoy, the gateway only takes
// part in a trace when it has a tracer: with no provider (or enableTracing: false) it leaves the
// client's trace headers as they are and costs one boolean test per request.

export interface TracingSettings {
  /** http://service:port/path of the collector's OTLP/HTTP traces endpoint. */
  readonly endpoint: string;
  /** Percentage of the traces the gateway starts that are sampled (defaultConfig.tracing.sampling). */
  readonly sampling: number;
}

export function tracingSettingsOf(mesh: MeshConfigSpec): TracingSettings | undefined {
  const name = mesh.defaultProviders.tracing[0];
  const provider = mesh.extensionProviders.find((candidate) => candidate.name === name)?.opentelemetry;
  if (!mesh.enableTracing || provider === undefined) return undefined;
  const host = provider.service.includes(':') ? `[${provider.service}]` : provider.service;
  return { endpoint: `http://${host}:${provider.port}${provider.http.path}`, sampling: mesh.defaultConfig.tracing.sampling };
}

/** One request's span, and the client's context it continues (if any). */
export interface RequestTrace {
  /** Writes the gateway's span as the parent into the headers sent upstream. */
  inject(headers: IncomingHttpHeaders): void;
  end(status: number, flags: string | undefined, cluster: string | undefined): void;
}

export interface Tracing {
  readonly enabled: boolean;
  /** Applies a reloaded MeshConfig's settings (undefined: off); spans of the old exporter are flushed. */
  configure(settings: TracingSettings | undefined): void;
  /** A span for a request that just arrived; only when enabled. */
  start(method: string, authority: string, path: string, headers: IncomingHttpHeaders): RequestTrace;
  /** Flushes the spans not exported yet (before a worker exits). */
  shutdown(): Promise<void>;
}

/** Spans leave in batches once a second (Envoy's OpenTelemetry tracer batches too). */
const exportDelayMs = 1000;

export function createTracing(serviceName = 'meshgate'): Tracing {
  let provider: BasicTracerProvider | undefined;
  let tracer: Tracer | undefined;
  let current = '';
  let sampling = 0;

  const tracing: Tracing & { enabled: boolean } = {
    enabled: false,
    configure(settings) {
      const key = settings === undefined ? '' : JSON.stringify(settings);
      if (key === current) return;
      current = key;
      void provider?.shutdown();
      provider = undefined;
      tracer = undefined;
      tracing.enabled = settings !== undefined;
      if (settings === undefined) return;
      sampling = settings.sampling;
      provider = new BasicTracerProvider({
        resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName }),
        sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.sampling / 100) }),
        spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: settings.endpoint }), { scheduledDelayMillis: exportDelayMs })],
      });
      tracer = provider.getTracer('meshgate');
    },
    start(method, authority, path, headers) {
      const client = readTraceContext(headers);
      // B3 may leave the decision to the gateway: it samples as for a trace of its own.
      const sampled = client === undefined ? undefined : (client.sampled ?? Math.random() * 100 < sampling);
      const parent =
        client === undefined
          ? ROOT_CONTEXT
          : trace.setSpanContext(ROOT_CONTEXT, { traceId: client.traceId, spanId: client.spanId, traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE, isRemote: true });
      const query = path.indexOf('?');
      const span = tracer!.startSpan(
        `${authority}${query === -1 ? path : path.slice(0, query)}`,
        { kind: SpanKind.SERVER, attributes: { [ATTR_HTTP_REQUEST_METHOD]: method, [ATTR_URL_PATH]: path, 'guid:x-request-id': String(headers['x-request-id']) } },
        parent,
      );
      return createRequestTrace(span, client);
    },
    shutdown: () => provider?.shutdown() ?? Promise.resolve(),
  };
  return tracing;
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
