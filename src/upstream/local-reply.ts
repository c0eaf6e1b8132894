import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { ResponseFlag } from '../errors.js';

// Every answer meshgate writes itself (no route, no healthy upstream, a direct response, a
// redirect, a failed upstream) goes out here, so they all look like Envoy's local replies:
// a short text/plain body with its length, or no body and content-length 0.

/** What the access log needs about one request, from a proxied response or a local reply. */
export interface ForwardOutcome {
  /** The status the client got; 0 when it got none (it went away first). */
  status: number;
  flag?: ResponseFlag;
  /** %RESPONSE_CODE_DETAILS%: `via_upstream`, `direct_response`, an upstream failure... */
  detail?: string;
  /** Request body bytes read from the client. */
  bytesReceived: number;
  /** Response body bytes written to the client. */
  bytesSent: number;
  /** Milliseconds from sending upstream to the upstream's response headers. */
  upstreamMs?: number;
  /** The grpc-status the client got (in the trailers, or the headers of a trailers-only answer). */
  grpcStatus?: string;
}

/**
 * Writes a complete local reply. When the response has already started, the only honest
 * answer left is to reset the stream, as Envoy does: the client socket is destroyed.
 */
export function sendLocalReply(
  res: ServerResponse,
  status: number,
  body: string | Buffer,
  flag?: ResponseFlag,
  extraHeaders?: OutgoingHttpHeaders,
): ForwardOutcome {
  if (res.headersSent) {
    res.destroy();
    return { status: res.statusCode, flag, bytesReceived: 0, bytesSent: 0 };
  }
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const headers: OutgoingHttpHeaders = bytes.length > 0 ? { 'content-type': 'text/plain' } : {};
  if (extraHeaders !== undefined) Object.assign(headers, extraHeaders);
  headers['content-length'] = bytes.length;
  res.writeHead(status, headers);
  res.end(bytes);
  const bytesSent = res.req?.method === 'HEAD' ? 0 : bytes.length;
  return { status, flag, bytesReceived: 0, bytesSent };
}
