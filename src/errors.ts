// Every error code meshgate can report, in one registry (codes as data, as fastify and
// undici keep theirs). Config codes reach users through `meshgate validate` and reload
// logs; response flags reach them through access logs and metrics.

/** Configuration error codes: what went wrong, in words a user fixing YAML can act on. */
export const configErrorCodes = {
  MG_ERR_CONFIG_READ: 'a config path could not be read',
  MG_ERR_CONFIG_YAML: 'a file is not valid YAML',
  MG_ERR_CONFIG_DOCUMENT: 'a YAML document is not a Kubernetes resource (apiVersion, kind, metadata)',
  MG_ERR_CONFIG_KIND_SKIPPED: 'a resource kind meshgate does not read was skipped',
  MG_ERR_CONFIG_API_VERSION: 'an apiVersion meshgate does not know for this kind',
  MG_ERR_CONFIG_DUPLICATE_RESOURCE: 'two resources share kind, namespace and name',
  MG_ERR_CONFIG_FIELD_UNKNOWN: 'a field the kind does not define',
  MG_ERR_CONFIG_FIELD_TYPE: 'a field has the wrong type',
  MG_ERR_CONFIG_FIELD_REQUIRED: 'a required field is missing',
  MG_ERR_CONFIG_FIELD_ENUM: 'a field is not one of its allowed values',
  MG_ERR_CONFIG_FIELD_VALUE: 'a field value is out of range or badly formed',
  MG_ERR_CONFIG_ONEOF: 'fields that exclude each other are set together',
  MG_ERR_CONFIG_DURATION: 'a duration is not like "1.5s", "250ms" or "1m30s"',
  MG_ERR_CONFIG_REGEX: 'a regular expression does not compile as RE2',
  MG_ERR_CONFIG_HOST: 'a host name or wildcard is badly formed',
  MG_ERR_CONFIG_GATEWAY_MISSING: 'a VirtualService names a Gateway that does not exist',
  MG_ERR_CONFIG_SUBSET_MISSING: 'a route names a subset no DestinationRule defines',
  MG_ERR_CONFIG_SERVER_DUPLICATE: 'two Gateway servers claim the same port and host',
  MG_ERR_CONFIG_PORT_PROTOCOL: 'two Gateway servers on one port disagree on its protocol',
  MG_ERR_CONFIG_WEIGHTS: 'route weights do not add up as Istio requires',
  MG_ERR_CONFIG_DESTINATION_PORT: 'a destination port is missing or not one the service defines',
  MG_ERR_CONFIG_SINGLETON: 'a kind the gateway reads once (MeshConfig) is defined twice',
  MG_ERR_CONFIG_UNSUPPORTED: 'a valid Istio field meshgate does not act on yet',
  MG_ERR_MESH_ACCESS_LOG_FILE: 'accessLogFile names a destination meshgate does not write to (only /dev/stdout)',
  MG_ERR_MESH_PROVIDER_MISSING: 'defaultProviders names an extension provider the MeshConfig does not define',
  MG_ERR_RATELIMIT_TARGET: 'a RateLimitPolicy targets a Gateway, VirtualService or http route that does not exist',
  MG_ERR_RATELIMIT_BACKEND: 'a Global RateLimitPolicy needs a Redis backend (MeshConfig spec.rateLimit.backend)',
  MG_ERR_RATELIMIT_SECRET: 'the Redis password file cannot be read, or its environment variable is not set',
  MG_ERR_TLS_FILE: 'a certificate, key, CA or CRL file a Gateway server names cannot be read',
  MG_ERR_TLS_PEM: 'a certificate, key, CA or CRL is not valid PEM',
  MG_ERR_TLS_KEY_MISMATCH: 'a private key does not belong to its certificate',
  MG_ERR_TLS_CERT_EXPIRING: 'a server certificate expires within 30 days, or has expired',
  MG_ERR_TLS_SETTINGS: 'TLS settings that cannot be served (versions out of order, an unknown cipher suite, a mode not built)',
} as const;

export type ConfigErrorCode = keyof typeof configErrorCodes;

/**
 * Envoy response flags meshgate sets, with the status a local reply uses.
 * See Envoy's access log docs (%RESPONSE_FLAGS%); Istio's dashboards read the same letters.
 */
export const responseFlags = {
  NR: { status: 404, meaning: 'no route configured for the request' },
  UH: { status: 503, meaning: 'no healthy upstream endpoint' },
  UF: { status: 503, meaning: 'upstream connection failure' },
  UT: { status: 504, meaning: 'upstream request timeout' },
  UC: { status: 503, meaning: 'upstream connection terminated' },
  UO: { status: 503, meaning: 'upstream overflow (circuit breaking)' },
  UPE: { status: 502, meaning: 'upstream protocol error (a response that is not valid HTTP)' },
  URX: { status: 503, meaning: 'upstream retry limit exceeded' },
  RL: { status: 429, meaning: 'rate limited' },
  RLSE: { status: 500, meaning: 'the rate limit backend (Redis) failed and failClosed is set' },
  DC: { status: 0, meaning: 'downstream connection terminated' },
  DI: { status: 0, meaning: 'request delayed by fault injection' },
  FI: { status: 0, meaning: 'request aborted by fault injection' },
} as const;

export type ResponseFlag = keyof typeof responseFlags;

/** A runtime error carrying one of the registry's codes; wrap causes, never lose them. */
export class MeshgateError extends Error {
  readonly code: string;

  constructor(code: ConfigErrorCode | ResponseFlag | RuntimeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MeshgateError';
    this.code = code;
  }
}

/** Errors of the process itself (start-up, listeners, CLI use). */
export const runtimeErrorCodes = {
  MG_ERR_LISTEN: 'a listener could not bind its address',
  MG_ERR_CLI_USAGE: 'the command line is not understood',
  MG_ERR_CONFIG_REFUSED: 'a configuration with errors was refused',
} as const;

export type RuntimeErrorCode = keyof typeof runtimeErrorCodes;
