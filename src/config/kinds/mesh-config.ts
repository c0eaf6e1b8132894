import { z } from 'zod';
import { accessLogStdout } from '../access-log-file.js';
import { defaultMeshConfig as defaults } from '../mesh-defaults.js';
import { addCodedIssue, duration, integer, portNumber, whenObject } from './common.js';

// MeshConfig (meshgate.dev/v1alpha1): the gateway-wide settings Istio keeps in its mesh config
// (the `mesh` key of the `istio` ConfigMap) rather than in a resource. The spec takes Istio's
// MeshConfig field names, so a user pastes the part of their mesh config that applies to a
// gateway; fields Istio has no counterpart for are meshgate's and say so. At most one per
// configuration; without one every field has Istio's default.

const GatewayTopology = z.strictObject({
  /** Proxies in front of the gateway whose X-Forwarded-For entries are trusted (Istio's default: 0). */
  numTrustedProxies: integer(0, 64).default(defaults.defaultConfig.gatewayTopology.numTrustedProxies),
});

const Tracing = z.strictObject({
  /** Percentage (0-100) of the traces the gateway starts that are sampled; Istio's default 1. */
  sampling: z.number().min(0).max(100).default(defaults.defaultConfig.tracing.sampling),
});

const ProxyConfig = z.strictObject({
  gatewayTopology: GatewayTopology.prefault({}),
  tracing: Tracing.prefault({}),
});

/** A secret read by the primary when the config loads, so it is never written in the YAML. */
const SecretSource = z
  .strictObject({
    /** A file holding the secret (a mounted Kubernetes Secret); trailing newlines are dropped. */
    file: z.string().min(1).optional(),
    /** An environment variable of the gateway process. */
    env: z.string().min(1).optional(),
  })
  .check(
    z.superRefine((source, ctx) => {
      if ((source.file === undefined) === (source.env === undefined)) addCodedIssue(ctx, 'MG_ERR_CONFIG_ONEOF', 'set exactly one of file, env');
    }, whenObject),
  );
export type SecretSource = z.output<typeof SecretSource>;

/**
 * meshgate's own (Istio has no rate-limit settings): where Global RateLimitPolicies count,
 * shaped like Envoy Gateway's `rateLimit.backend.redis` and `failClosed`.
 */
const RateLimitSettings = z.strictObject({
  backend: z
    .strictObject({
      type: z.literal('Redis').default('Redis'),
      redis: z.strictObject({
        /** redis://host:port[/db] or rediss:// for TLS; a password in it is redacted from /config_dump. */
        url: z.string().regex(/^rediss?:\/\//, 'expected a redis:// or rediss:// URL').optional(),
        username: z.string().optional(),
        password: SecretSource.optional(),
        tls: z
          .strictObject({
            /** PEM file of the CA that signed Redis's certificate; the system CAs when absent. */
            caCertificates: z.string().optional(),
            /** SNI and the name the certificate must carry; the URL's host when absent. */
            sni: z.string().optional(),
          })
          .optional(),
        sentinel: z
          .strictObject({
            /** The master group name the sentinels watch. */
            masterName: z.string().min(1),
            /** "host:port" of each sentinel. */
            addresses: z.array(z.string().regex(/^.+:\d+$/, 'expected "host:port"')).min(1),
          })
          .optional(),
        /** Prefix of every key meshgate writes (several gateways may share one Redis). */
        keyPrefix: z.string().min(1).default('meshgate'),
      }).check(
        z.superRefine((redis, ctx) => {
          if ((redis.url === undefined) === (redis.sentinel === undefined)) addCodedIssue(ctx, 'MG_ERR_CONFIG_ONEOF', 'set exactly one of url (one Redis) or sentinel (Redis Sentinel)');
        }, whenObject),
      ),
    })
    .optional(),
  /** Envoy Gateway's failClosed: when Redis cannot answer, reject (500, flag RLSE) instead of limiting locally. */
  failClosed: z.boolean().default(defaults.rateLimit.failClosed),
  /** The longest a request waits for Redis before the failure mode applies. */
  timeout: duration.default(defaults.rateLimit.timeout),
});
export type RateLimitSettings = z.output<typeof RateLimitSettings>;

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

export const MeshConfigSpec = z
  .strictObject({
    /** Istio's `defaultConfig` (ProxyConfig): the settings of each proxy, here of the gateway. */
    defaultConfig: ProxyConfig.prefault({}),
    /** Istio's: "" (its default) is no access log; meshgate writes only to /dev/stdout. */
    accessLogFile: z.string().default(defaults.accessLogFile),
    accessLogEncoding: z.enum(['TEXT', 'JSON']).default(defaults.accessLogEncoding),
    /** meshgate's: log only requests with status >= 400 or any response flag (Istio does this with a Telemetry filter). */
    accessLogErrorsOnly: z.boolean().default(defaults.accessLogErrorsOnly),
    /** Istio's: no spans and no trace headers of the gateway's own when false. */
    enableTracing: z.boolean().default(defaults.enableTracing),
    extensionProviders: z.array(ExtensionProvider).default(defaults.extensionProviders),
    /** Istio's: the providers used when no Telemetry resource names one (meshgate reads `tracing`). */
    defaultProviders: z.strictObject({ tracing: z.array(z.string()).max(1).default(defaults.defaultProviders.tracing) }).prefault({}),
    /** meshgate's own: the backend of Global rate limits. */
    rateLimit: RateLimitSettings.prefault({}),
  })
  .check(
    // Runs even when other fields failed (whenObject), so every problem is reported at once.
    z.superRefine((spec, ctx) => {
      if (typeof spec.accessLogFile === 'string' && spec.accessLogFile !== '' && spec.accessLogFile !== accessLogStdout) {
        addCodedIssue(ctx, 'MG_ERR_MESH_ACCESS_LOG_FILE', `meshgate writes its access log to ${accessLogStdout} only (a file is not built); got "${spec.accessLogFile}"`, ['accessLogFile']);
      }
      const providers: unknown = spec.extensionProviders;
      const names = new Set(Array.isArray(providers) ? providers.map((provider: { name?: unknown }) => provider?.name) : []);
      const tracing: unknown = spec.defaultProviders?.tracing;
      if (!Array.isArray(tracing)) return;
      tracing.forEach((name: unknown, index) => {
        if (!names.has(name)) addCodedIssue(ctx, 'MG_ERR_MESH_PROVIDER_MISSING', `no extensionProviders entry is named "${String(name)}"`, ['defaultProviders', 'tracing', index]);
      });
    }, whenObject),
  );
export type MeshConfigSpec = z.output<typeof MeshConfigSpec>;
