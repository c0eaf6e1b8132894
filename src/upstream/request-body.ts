import type { IncomingHttpHeaders } from 'node:http';

/** Whether a request carries a body to stream upstream (HTTP/1.1: a length or chunked framing). */
export function requestHasBody(headers: IncomingHttpHeaders): boolean {
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
}
