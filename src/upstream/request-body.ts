import type { IncomingMessage } from 'node:http';

/**
 * Whether a request carries a body to stream upstream. HTTP/1.1: a length or chunked framing.
 * HTTP/2 frames the body itself: there is one unless the headers ended the stream (gRPC sends
 * no length).
 */
export function requestHasBody(req: IncomingMessage): boolean {
  const http2Stream = (req as { stream?: { endAfterHeaders: boolean } }).stream;
  if (http2Stream !== undefined) return !http2Stream.endAfterHeaders;
  const { headers } = req;
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
}
