import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

// Header rules of Envoy at an Istio gateway (use_remote_address: true): hop-by-hop headers
// stop here in both directions, X-Forwarded-For gains the client address, X-Forwarded-Proto
// is the listener's scheme. Every request carries an x-request-id: the handler gives one to a
// request that arrived without (http-handler's begin), and it is forwarded like any other header.

/**
 * Headers that describe one connection, not the message (RFC 9110 7.6.1). `upgrade` is among
 * them: an upgrade is forwarded through undici's own `upgrade` option, never as a header.
 * `expect` goes too: node already answered `100-continue` itself, as Envoy does by default.
 */
const hopByHopHeaders: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'upgrade',
  'expect',
  'http2-settings',
]);

export interface UpstreamRequestHeaderOptions {
  /** The client's address as the socket reports it (IPv4-mapped IPv6 is shown as IPv4). */
  readonly remoteAddress: string | undefined;
  /** The listener's scheme: X-Forwarded-Proto is overwritten with it. */
  readonly scheme: 'http' | 'https';
  /** The Host to send upstream: the client's, or the route's rewrite. */
  readonly authority: string;
  /** x-forwarded-client-cert for a verified client certificate; a client's own is never passed on. */
  readonly forwardedClientCert?: string;
}

/** The headers to send upstream, built from the client's in one pass over them. */
export function buildUpstreamRequestHeaders(
  client: IncomingHttpHeaders,
  options: UpstreamRequestHeaderOptions,
): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = { host: options.authority };
  const connectionOptions = client.connection === undefined ? undefined : nominatedHeaders(client.connection);
  for (const name in client) {
    const value = client[name];
    // HTTP/2 pseudo-headers (:authority, :path...) describe this hop's request line.
    if (value === undefined || name === 'host' || name.charCodeAt(0) === COLON || hopByHopHeaders.has(name) || connectionOptions?.has(name)) continue;
    // Envoy's SANITIZE_SET at a gateway: the client certificate the gateway verified, or nothing.
    if (name === 'x-forwarded-client-cert') continue;
    out[name] = value;
  }
  if (options.forwardedClientCert !== undefined) out['x-forwarded-client-cert'] = options.forwardedClientCert;
  // TE is hop-by-hop, but `trailers` is what gRPC needs end to end; Envoy forwards that value only.
  if (client.te !== undefined && listedNames(client.te).has('trailers')) out.te = 'trailers';

  const clientAddress = displayAddress(options.remoteAddress);
  if (clientAddress !== undefined) {
    const forwardedFor = client['x-forwarded-for'];
    out['x-forwarded-for'] = forwardedFor ? `${forwardedFor}, ${clientAddress}` : clientAddress;
  }
  out['x-forwarded-proto'] = options.scheme;
  return out;
}

const COLON = 0x3a;

/** The upstream response's headers without hop-by-hop ones, for the client. */
export function buildDownstreamResponseHeaders(upstream: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const connectionOptions = upstream.connection === undefined ? undefined : nominatedHeaders(upstream.connection);
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined || hopByHopHeaders.has(name) || connectionOptions?.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/**
 * The headers a Connection header names, which stop here too. Nearly every message says only
 * `keep-alive`, `close` or `upgrade`, which name no header that is not dropped already: those
 * build no set (this runs for every request and every response).
 */
function nominatedHeaders(value: string | string[]): ReadonlySet<string> | undefined {
  return typeof value === 'string' && usualConnectionValues.has(value) ? undefined : listedNames(value);
}

const usualConnectionValues: ReadonlySet<string> = new Set(['keep-alive', 'close', 'upgrade', 'Keep-Alive', 'Close', 'Upgrade']);

/** Lower-cased tokens of a comma-separated header value (Connection, TE). */
function listedNames(value: string | string[]): Set<string> {
  const names = new Set<string>();
  for (const part of Array.isArray(value) ? value : [value]) {
    for (const token of part.split(',')) {
      // `TE: trailers;q=0.5` still names trailers.
      const name = token.split(';', 1)[0]!.trim().toLowerCase();
      if (name !== '') names.add(name);
    }
  }
  return names;
}

/** The client address as Envoy prints it: `::ffff:10.0.0.1` from a dual-stack socket is `10.0.0.1`. */
export function displayAddress(address: string | undefined): string | undefined {
  return address?.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
