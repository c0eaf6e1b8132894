import type { IncomingHttpHeaders } from 'node:http';
import type { MeshConfigSpec } from '../config/kinds/mesh-config.js';
import type { OtelTracer } from './otel-tracer.js';

// The gateway's span per request, exported with OpenTelemetry's SDK (otel-tracer.ts) to the
// collector of the MeshConfig's default tracing provider. As Envoy, the gateway only takes part in
// a trace when it has a tracer: with no provider (or enableTracing: false) it leaves the client's
// trace headers as they are and costs one boolean test per request.

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
  configure(settings: TracingSettings | undefined): Promise<void>;
  /** A span for a request that just arrived; only when enabled. */
  start(method: string, authority: string, path: string, headers: IncomingHttpHeaders): RequestTrace;
  /** Flushes the spans not exported yet (before a worker exits). */
  shutdown(): Promise<void>;
}

export function createTracing(serviceName = 'meshgate'): Tracing {
  let tracer: OtelTracer | undefined;
  let current = '';

  const tracing = {
    enabled: false,
    async configure(settings: TracingSettings | undefined) {
      const key = settings === undefined ? '' : JSON.stringify(settings);
      if (key === current) return;
      current = key;
      const next = settings === undefined ? undefined : (await import('./otel-tracer.js')).createOtelTracer(settings, serviceName);
      void tracer?.shutdown();
      tracer = next;
      tracing.enabled = next !== undefined;
    },
    start: (method: string, authority: string, path: string, headers: IncomingHttpHeaders) => tracer!.start(method, authority, path, headers),
    shutdown: () => tracer?.shutdown() ?? Promise.resolve(),
  };
  return tracing;
}
