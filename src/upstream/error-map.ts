import { responseFlags, type ResponseFlag } from '../errors.js';

// The one place an upstream failure becomes what the client and the access log see: a status,
// an Envoy response flag, Envoy's response code details and the short body of Envoy's local
// reply. Bodies never carry an address or a stack.

export interface UpstreamFailure {
  readonly status: number;
  readonly flag: ResponseFlag;
  /** %RESPONSE_CODE_DETAILS% as Envoy writes it. */
  readonly detail: string;
  /** The plain-text body of the local reply. */
  readonly body: string;
}

const resetBefore = 'upstream connect error or disconnect/reset before headers. reset reason:';

function failure(flag: ResponseFlag, detail: string, body: string): UpstreamFailure {
  return Object.freeze({ status: responseFlags[flag].status, flag, detail, body });
}

export const upstreamFailures = Object.freeze({
  connectFailure: failure('UF', 'upstream_reset_before_response_started{connection_failure}', `${resetBefore} connection failure`),
  timeout: failure('UT', 'response_timeout', 'upstream request timeout'),
  connectionTermination: failure(
    'UC',
    'upstream_reset_before_response_started{connection_termination}',
    `${resetBefore} connection termination`,
  ),
  noHealthyUpstream: failure('UH', 'no_healthy_upstream', 'no healthy upstream'),
  overflow: failure('UO', 'upstream_reset_before_response_started{overflow}', `${resetBefore} overflow`),
  protocolError: failure('UPE', 'upstream_reset_before_response_started{protocol_error}', `${resetBefore} protocol error`),
  downstreamDisconnect: failure('DC', 'downstream_remote_disconnect', ''),
});

/** What Envoy logs when the upstream breaks a response whose headers the client already has. */
export const resetAfterResponseStarted = 'upstream_reset_after_response_started{connection_termination}';

const byCode: ReadonlyMap<string, UpstreamFailure> = new Map([
  // The connection was never made (node's net/dns errors, undici's connect timeout, a pool
  // closed under us by a config reload, a TLS handshake that failed).
  ['ECONNREFUSED', upstreamFailures.connectFailure],
  ['EHOSTUNREACH', upstreamFailures.connectFailure],
  ['ENETUNREACH', upstreamFailures.connectFailure],
  ['EHOSTDOWN', upstreamFailures.connectFailure],
  ['EADDRNOTAVAIL', upstreamFailures.connectFailure],
  ['ENOTFOUND', upstreamFailures.connectFailure],
  ['EAI_AGAIN', upstreamFailures.connectFailure],
  ['ETIMEDOUT', upstreamFailures.connectFailure],
  ['UND_ERR_CONNECT_TIMEOUT', upstreamFailures.connectFailure],
  ['UND_ERR_DESTROYED', upstreamFailures.connectFailure],
  ['UND_ERR_CLOSED', upstreamFailures.connectFailure],
  ['ERR_TLS_CERT_ALTNAME_INVALID', upstreamFailures.connectFailure],
  ['CERT_HAS_EXPIRED', upstreamFailures.connectFailure],
  ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', upstreamFailures.connectFailure],
  ['DEPTH_ZERO_SELF_SIGNED_CERT', upstreamFailures.connectFailure],
  ['SELF_SIGNED_CERT_IN_CHAIN', upstreamFailures.connectFailure],
  // The upstream took too long to answer.
  ['UND_ERR_HEADERS_TIMEOUT', upstreamFailures.timeout],
  ['UND_ERR_BODY_TIMEOUT', upstreamFailures.timeout],
  // The connection broke after the request went out.
  ['ECONNRESET', upstreamFailures.connectionTermination],
  ['EPIPE', upstreamFailures.connectionTermination],
  ['ECONNABORTED', upstreamFailures.connectionTermination],
  ['UND_ERR_SOCKET', upstreamFailures.connectionTermination],
  ['UND_ERR_RES_CONTENT_LENGTH_MISMATCH', upstreamFailures.connectionTermination],
  // The upstream answered something that is not HTTP, or too much of it.
  ['UND_ERR_HEADERS_OVERFLOW', upstreamFailures.protocolError],
  ['UND_ERR_RES_EXCEEDED_MAX_SIZE', upstreamFailures.protocolError],
  // The request was aborted because the client went away (or its body ended early).
  ['UND_ERR_ABORTED', upstreamFailures.downstreamDisconnect],
  ['UND_ERR_REQ_CONTENT_LENGTH_MISMATCH', upstreamFailures.downstreamDisconnect],
]);

const byFlag: ReadonlyMap<string, UpstreamFailure> = new Map(
  Object.values(upstreamFailures).map((entry) => [entry.flag, entry]),
);

/**
 * Maps an error from undici, node or meshgate to a failure. A `MeshgateError` whose code is a
 * response flag (e.g. `new MeshgateError('UO', ...)` from a cluster's circuit breaker) maps to
 * that flag. Anything unknown is a terminated connection: 503 UC.
 */
export function mapUpstreamError(err: unknown): UpstreamFailure {
  const code = errorCode(err) ?? errorCode((err as { cause?: unknown } | null)?.cause);
  if (code === undefined) return upstreamFailures.connectionTermination;
  const known = byCode.get(code) ?? byFlag.get(code);
  if (known !== undefined) return known;
  if (code.startsWith('HPE_')) return upstreamFailures.protocolError; // llhttp parse errors
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return upstreamFailures.connectFailure;
  return upstreamFailures.connectionTermination;
}

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}
