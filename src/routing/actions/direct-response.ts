// Istio's HTTPDirectResponse: Envoy answers it as a local reply, so a body goes out as
// text/plain with its length (a route's `headers.response` can still set another type), and no
// body means content-length 0 and no content type.

export interface HttpDirectResponseSpec {
  status: number;
  /** One of: `string`, or `bytes` (base64, as protobuf bytes read from YAML/JSON). */
  body?: { string?: string; bytes?: string };
}

export interface DirectResponse {
  readonly status: number;
  readonly body: Buffer;
  readonly headers: Readonly<Record<string, string>>;
  /** %RESPONSE_CODE_DETAILS% for the access log. */
  readonly detail: 'direct_response';
}

export function compileDirectResponse(spec: HttpDirectResponseSpec): DirectResponse {
  const body = directResponseBody(spec.body);
  const headers: Record<string, string> = body.length > 0 ? { 'content-type': 'text/plain' } : {};
  return Object.freeze({
    status: spec.status,
    body,
    headers: Object.freeze(headers),
    detail: 'direct_response',
  });
}

function directResponseBody(body: HttpDirectResponseSpec['body']): Buffer {
  if (body?.string !== undefined) return Buffer.from(body.string, 'utf8');
  if (body?.bytes !== undefined) return Buffer.from(body.bytes, 'base64');
  return Buffer.alloc(0);
}
