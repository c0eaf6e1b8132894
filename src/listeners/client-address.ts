import type { IncomingHttpHeaders } from 'node:http';
import { displayAddress } from '../upstream/request-headers.js';

// The downstream client's address, as Envoy decides it at an Istio gateway (use_remote_address
// with xff_num_trusted_hops = MeshConfig numTrustedProxies): the connection's peer, unless N
// proxies in front of the gateway are trusted; then the N-th X-Forwarded-For entry from the
// right, the address the outermost trusted proxy saw. A client can prepend anything to the
// header, so entries left of that one are never read; with fewer entries than trusted proxies
// the header is not trusted at all and the peer address stands.

/** The client's IP (no port); `trustedProxies` 0 reads no header. */
export function clientAddressOf(peer: string | undefined, headers: IncomingHttpHeaders, trustedProxies: number): string {
  const address = displayAddress(peer) ?? '';
  if (trustedProxies === 0) return address;
  const header = headers['x-forwarded-for'];
  if (header === undefined) return address;
  const entries = (Array.isArray(header) ? header.join(',') : header).split(',');
  if (entries.length < trustedProxies) return address;
  const entry = entries[entries.length - trustedProxies]!.trim();
  return entry === '' ? address : (displayAddress(entry) ?? address);
}
