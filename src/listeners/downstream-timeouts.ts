// How long a client may take on the TLS/HTTP/2 listener before the gateway closes its connection.
// The HTTP/1.1 values are the plain HTTP listener's (fastify's and node's defaults), so a port
// does not get laxer by turning on TLS; the others follow Envoy where Istio leaves it at Envoy's.

export interface DownstreamTimeouts {
  /**
   * On a port that reads the ClientHello to pick its TLS server (servers with different TLS
   * settings, or PASSTHROUGH beside terminated ones), it must arrive within this (Envoy's
   * listener_filters_timeout default, 15 s; Istio turns it off on gateways, meshgate keeps a bound).
   */
  readonly clientHelloMs: number;
  /**
   * The TLS handshake must finish within this (Istio's gateway transport socket connect timeout,
   * 15 s): from the ClientHello where it was read first, else from the connection.
   */
  readonly tlsHandshakeMs: number;
  /** An HTTP/1.1 request's header block must be whole within this (node's headersTimeout, 60 s): 408 and close. */
  readonly headersMs: number;
  /** A whole HTTP/1.1 request, body included (node's requestTimeout; 0: off, as on the plain listener, where the route timeout governs). */
  readonly requestMs: number;
  /** An idle keep-alive HTTP/1.1 connection is closed after this (fastify's keepAliveTimeout, 72 s). */
  readonly keepAliveMs: number;
  /** An HTTP/2 session with no open stream and no frames for this long gets GOAWAY (the plain listener's keep-alive, 72 s). */
  readonly http2IdleMs: number;
  /** How often node looks for HTTP/1.1 header and request timeouts (node's connectionsCheckingInterval, 30 s). */
  readonly checkIntervalMs: number;
}

export const downstreamTimeouts: DownstreamTimeouts = Object.freeze({
  clientHelloMs: 15_000,
  tlsHandshakeMs: 15_000,
  headersMs: 60_000,
  requestMs: 0,
  keepAliveMs: 72_000,
  http2IdleMs: 72_000,
  checkIntervalMs: 30_000,
});
