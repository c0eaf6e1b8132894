import { createHash, X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { ServerBlock } from '../config/snapshot.js';
import type { TlsServerConfig } from '../config/compile-tls.js';

// What a TLS handshake decided about a connection: the Gateway server it belongs to (by SNI,
// or the port's default without one) and the client certificate's identity. Requests read it
// from their socket (an HTTP/2 request's socket is a proxy that reads through to the TLSSocket).

export interface TlsConnection {
  readonly server: ServerBlock;
  /** Envoy's x-forwarded-client-cert value (Hash, Subject, URI) when a verified client certificate was presented. */
  readonly forwardedClientCert?: string;
}

const key = Symbol('meshgate.tlsConnection');

export function tlsConnectionOf(socket: object): TlsConnection | undefined {
  return (socket as { [key]?: TlsConnection })[key];
}

/**
 * Checks the client certificate against the server's mode and pins; attaches the connection's
 * TlsConnection and returns undefined when it may go on, or says why it may not.
 */
export function admitTlsConnection(socket: TLSSocket, server: ServerBlock & { readonly tls: TlsServerConfig }): string | undefined {
  const { mode, verifyPeer } = server.tls;
  let forwardedClientCert: string | undefined;
  if (mode !== 'SIMPLE') {
    const peer = socket.getPeerCertificate();
    const presented = peer !== null && peer.raw !== undefined;
    if (!presented && mode === 'MUTUAL') return 'no client certificate (MUTUAL)';
    if (presented) {
      if (!socket.authorized) return `client certificate not verified: ${String(socket.authorizationError)}`;
      const problem = verifyPeer?.(peer.raw, peer.subjectaltname);
      if (problem !== undefined) return problem;
      forwardedClientCert = formatForwardedClientCert(peer.raw, peer.subjectaltname);
    }
  }
  const connection: TlsConnection = forwardedClientCert === undefined ? { server } : { server, forwardedClientCert };
  (socket as { [key]?: TlsConnection })[key] = connection;
  return undefined;
}

/** Envoy's format: Hash=<sha256 hex of the DER>;Subject="<RFC 2253 subject>";URI=<each URI SAN>. */
function formatForwardedClientCert(raw: Buffer, subjectAltName: string | undefined): string {
  const hash = createHash('sha256').update(raw).digest('hex');
  const subject = new X509Certificate(raw).subject.split('\n').reverse().join(',');
  const uris = (subjectAltName ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('URI:'))
    .map((entry) => `;URI=${entry.slice(4)}`);
  return `Hash=${hash};Subject="${subject.replace(/"/g, '\\"')}"${uris.join('')}`;
}
