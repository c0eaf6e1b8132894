import { z } from 'zod';
import { addCodedIssue, integer, portNumber } from './common.js';

// MeshConfig (meshgate.dev/v1alpha1): the gateway-wide settings Istio keeps in its mesh config
// (the `mesh` key of the `istio` ConfigMap) rather than in a resource. The spec takes Istio's
// MeshConfig field names, so a user pastes the part of their mesh config that applies to a
// gateway; fields Istio has no counterpart for are meshgate's and say so. At most one per
// configuration; without one every field has Istio's default.

const GatewayTopology = z.strictObject({
  /** Proxies in front of the gateway whose X-Forwarded-For entries are trusted (Istio's default: 0). */
  numTrustedProxies: integer(0, 64).default(0),
});

const Tracing = z.strictObject({
  /** Percentage (0-100) of the traces the gateway starts that are sampled; Istio's default 1. */
  sampling: z.number().min(0).max(100).default(1),
});

const ProxyConfig = z.strictObject({
  gatewayTopology: GatewayTopology.prefault({}),
  tracing: Tracing.prefault({}),
});

/** Istio's OpenTelemetry tracing provider; meshgate exports over OTLP/HTTP only. */
const OpenTelemetryProvider = z.strictObject({
  /** The collector's host name or address. */
  service: z.string().min(1),
  port: portNumber,
  http: z.strictObject({ path: z.string().startsWith('/').default('/v1/traces') }).prefault({}),
});

const ExtensionProvider = z.strictObject({
  name: z.string().min(1),
  opentelemetry: OpenTelemetryProvider,
});

export const accessLogStdout = '/dev/stdout';

export const MeshConfigSpec = z
  .strictObject({
    /** Istio's `defaultConfig` (ProxyConfig): the settings of each proxy, here of the gateway. */
    defaultConfig: ProxyConfig.prefault({}),
    /** Istio's: "" (its default) is no access log; meshgate writes only to /dev/stdout. */
    accessLogFile: z.string().default(''),
    accessLogEncoding: z.enum(['TEXT', 'JSON']).default('TEXT'),
    /** meshgate's: log only requests with status >= 400 or any response flag (Istio does this with a Telemetry filter). */
    accessLogErrorsOnly: z.boolean().default(false),
    /** Istio's: no spans and no trace headers of the gateway's own when false. */
    enableTracing: z.boolean().default(true),
    extensionProviders: z.array(ExtensionProvider).default([]),
    /** Istio's: the providers used when no Telemetry resource names one (meshgate reads `tracing`). */
    defaultProviders: z.strictObject({ tracing: z.array(z.string()).max(1).default([]) }).prefault({}),
  })
  .superRefine((spec, ctx) => {
    if (spec.accessLogFile !== '' && spec.accessLogFile !== accessLogStdout) {
      addCodedIssue(ctx, 'MG_ERR_MESH_ACCESS_LOG_FILE', `meshgate writes its access log to ${accessLogStdout} only (a file is not built); got "${spec.accessLogFile}"`, ['accessLogFile']);
    }
    const names = new Set(spec.extensionProviders.map((provider) => provider.name));
    spec.defaultProviders.tracing.forEach((name, index) => {
      if (!names.has(name)) addCodedIssue(ctx, 'MG_ERR_MESH_PROVIDER_MISSING', `no extensionProviders entry is named "${name}"`, ['defaultProviders', 'tracing', index]);
    });
  });
export type MeshConfigSpec = z.output<typeof MeshConfigSpec>;

/** The settings when no MeshConfig is given. */
export const defaultMeshConfig: MeshConfigSpec = MeshConfigSpec.parse({});
