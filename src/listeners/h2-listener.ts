import { createServer as createHttp1Server, type IncomingMessage, type Server as Http1Server, type ServerResponse } from 'node:http';
import { createServer as createHttp2Server, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import { createServer as createNetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createNodeTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { MeshgateError } from '../errors.js';
import type { ListenerConfig } from '../config/snapshot.js';
import type { TlsServerConfig } from '../config/compile-tls.js';
import { answerClientError, type HttpListener, type HttpListenerOptions } from './http-listener.js';
import { admitTlsConnection } from './tls-connection.js';
import { peekClientHello, type PeekOutcome } from './sni-peek.js';
import { downstreamTimeouts, type DownstreamTimeouts } from './downstream-timeouts.js';
import { countConnections } from './connection-count.js';
import type { TicketKeys } from './ticket-keys.js';

// A listener that speaks HTTP/2 beside HTTP/1.1: a TLS port (the ClientHello's SNI picks the
// Gateway server and so its certificates and TLS settings, ALPN picks h2 or http/1.1) or a
// plaintext HTTP2/GRPC port (h2c with prior knowledge, else HTTP/1.1). A port whose servers share
// one TLS server hands each connection to it unread: reading the ClientHello in JavaScript first
// cost about 10% of a new connection's CPU (README, Figures). One net.Server accepts; the
// TLS servers, the HTTP/1.1 server and the HTTP/2 server never listen themselves, they are handed
// connections (`emit('connection')`), so accept() can take a socket another listener accepted and
// peeked at (a port mixing PASSTHROUGH and terminated servers): createH2Acceptor is the whole
// listener without the listening socket, createH2Listener adds one.
// A reload keeps the TLS server of settings that did not change (and so the sessions it can
// resume); new certificates or settings get a new TLS server for new connections, open ones keep theirs.
// Downstream timeouts: node checks the HTTP/1.1 header and request timeouts only on servers that
// listen() themselves, so they are started here (see startRequestTimeouts), and a TLS handshake
// or an HTTP/2 session without streams is bounded too (downstream-timeouts.ts).

export interface H2ListenerOptions extends HttpListenerOptions {
  readonly config: ListenerConfig;
  /** The worker's session-ticket keys, shared by all its TLS servers (and with the other workers). */
  readonly ticketKeys: TicketKeys;
  /** Shorter timeouts for tests; the defaults are downstream-timeouts.ts's. */
  readonly timeouts?: Partial<DownstreamTimeouts>;
}

export type H2AcceptorOptions = Omit<H2ListenerOptions, 'bind' | 'port'>;

/** The listener without a socket of its own: connections come through accept(). */
export interface H2Acceptor {
  /** Serves new connections with this config's TLS settings (certificates, client verification). */
  update(config: ListenerConfig): void;
  /**
   * Takes a plain TCP connection accepted elsewhere, as if this listener had accepted it. `hello`:
   * its ClientHello, already read from it (and not put back), so it is not read twice.
   */
  accept(socket: Socket, hello?: PeekOutcome): void;
  /** Stops serving: HTTP/2 sessions get GOAWAY, idle HTTP/1.1 connections close; after drainMs the rest is destroyed. */
  close(drainMs: number): Promise<void>;
}

export type H2Listener = HttpListener & H2Acceptor;

/** A TLS server of the listener and the port config its connections are judged by. */
interface TlsEntry {
  readonly server: TlsServer;
  config: ListenerConfig;
}

/** The TLS servers of a port, by contextKey, and the config that chose them. */
interface TlsServers {
  readonly config: ListenerConfig;
  readonly servers: ReadonlyMap<string, TlsEntry>;
  /** The port's one TLS server, when all its servers share it: connections go to it unread. */
  readonly only: TlsServer | undefined;
}

/** OpenSSL's limit on a session id context (SSL_MAX_SID_CTX_LENGTH). */
const maxSessionIdContext = 32;

/** The client connection preface of HTTP/2 (RFC 9113 3.4), which an h2c client sends first. */
const h2Preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export function createH2Acceptor(options: H2AcceptorOptions): H2Acceptor {
  const { logger, onRequest, onUpgrade } = options;
  const timeouts = { ...downstreamTimeouts, ...options.timeouts };
  let draining = false;
  const sockets = new Set<Duplex>();
  /** HTTP/1.1 connections and their requests in flight: idle ones close when draining begins. */
  const http1InFlight = new Map<Duplex, number>();
  /** Open HTTP/2 sessions and how many streams each has open. */
  const sessions = new Map<ServerHttp2Session, number>();

  const http1 = createHttp1Server({ headersTimeout: timeouts.headersMs, requestTimeout: timeouts.requestMs, connectionsCheckingInterval: timeouts.checkIntervalMs }, (req, res) => {
    const socket = req.socket;
    http1InFlight.set(socket, (http1InFlight.get(socket) ?? 0) + 1);
    res.once('close', () => {
      const left = (http1InFlight.get(socket) ?? 1) - 1;
      if (!http1InFlight.has(socket)) return;
      http1InFlight.set(socket, left);
      if (draining && left === 0) socket.destroy();
    });
    if (draining) res.setHeader('connection', 'close');
    onRequest(req, res);
  });
  http1.on('connection', (socket: Duplex) => {
    http1InFlight.set(socket, 0);
    socket.once('close', () => http1InFlight.delete(socket));
  });
  http1.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    http1InFlight.delete(socket);
    onUpgrade(req, socket, head);
  });
  http1.on('clientError', (err: Error & { code?: string }, socket: Socket) => answerClientError(err, socket, logger));
  http1.keepAliveTimeout = timeouts.keepAliveMs;
  startRequestTimeouts(http1);

  const http2 = createHttp2Server((req: Http2ServerRequest, res: Http2ServerResponse) => {
    // Routing and upstream headers read Host; HTTP/2 carries it as :authority.
    req.headers.host ??= req.headers[':authority'];
    onRequest(req as unknown as IncomingMessage, res as unknown as ServerResponse);
  });
  http2.on('session', (session: ServerHttp2Session) => {
    sessions.set(session, 0);
    session.once('close', () => sessions.delete(session));
    session.on('stream', (stream: ServerHttp2Stream) => {
      sessions.set(session, (sessions.get(session) ?? 0) + 1);
      stream.once('close', () => {
        const open = sessions.get(session);
        if (open !== undefined) sessions.set(session, open - 1);
      });
    });
    session.on('error', (err) => logger.debug('http2 session error', { err }));
    // Idle for the timeout: GOAWAY when no stream is open (Envoy's idle_timeout counts only time
    // without streams); a long quiet stream (gRPC streaming) keeps it. The session emits 'timeout'
    // each time it has been inactive that long (the server-level timeout handler runs only once).
    session.setTimeout(timeouts.http2IdleMs);
    session.on('timeout', () => {
      if (sessions.get(session) === 0) session.close();
    });
    if (draining) session.close();
  });

  const serveHttp = (socket: Duplex, http2Preferred: boolean) => {
    (http2Preferred ? http2 : http1).emit('connection', socket);
  };

  let tls: TlsServers | undefined = tlsServersFor(options.config, undefined);

  /**
   * One tls.Server per distinct TLS settings of the port's servers, each with that server's own
   * certificates, versions, cipher suites and client verification: the ClientHello's SNI picks
   * the server before the handshake starts (Node's SNI callback could swap certificates and CAs,
   * but not versions, cipher suites or whether a certificate is asked for). The servers of
   * `previous` whose settings are still served are kept, the others released.
   */
  function tlsServersFor(config: ListenerConfig, previous: TlsServers | undefined): TlsServers | undefined {
    const servers = new Map<string, TlsEntry>();
    for (const block of config.tls === undefined ? [] : config.servers.servers) {
      if (block.tls === undefined || servers.has(block.tls.contextKey)) continue;
      const kept = previous?.servers.get(block.tls.contextKey);
      if (kept !== undefined) kept.config = config;
      servers.set(block.tls.contextKey, kept ?? createTlsServer(config, block.tls));
    }
    for (const [contextKey, { server }] of previous?.servers ?? []) if (!servers.has(contextKey)) options.ticketKeys.release(server);
    const only = servers.size === 1 ? servers.values().next().value?.server : undefined;
    return config.tls === undefined ? undefined : { config, servers, only };
  }

  function createTlsServer(config: ListenerConfig, settings: TlsServerConfig): TlsEntry {
    const server = createNodeTlsServer({
      ...settings.contextOptions,
      handshakeTimeout: timeouts.tlsHandshakeMs,
      ALPNProtocols: ['h2', 'http/1.1'],
      requestCert: settings.mode !== 'SIMPLE',
      // The server's own rules (mode, pins) decide after the handshake, in admitTlsConnection.
      rejectUnauthorized: false,
      // All TLS servers share the ticket keys: a session resumes only where it was made, with the
      // same certificates, CA and client checks (Node's default context is one per process).
      sessionIdContext: settings.contextKey.slice(0, maxSessionIdContext),
      // A name that none of this TLS server's Gateway servers covers is refused while the
      // ClientHello is read, before a certificate is sent, as Envoy finds no filter chain for it.
      // A peeked connection was sent here by that name already; an unread one is judged here.
      SNICallback: (servername, done) => {
        const found = entry.config.servers.find(servername);
        done(found?.tls?.contextKey === settings.contextKey ? null : new Error(`no server of ${entry.config.name} for SNI ${servername}`));
      },
    });
    options.ticketKeys.use(server);
    // A kept server judges its connections by the latest config; a released one by its last.
    const entry: TlsEntry = { server, config };
    server.on('secureConnection', (socket: TLSSocket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      const { config } = entry;
      const found = socket.servername ? config.servers.find(socket.servername) : config.tls?.defaultServer;
      const refused = found?.tls === undefined ? 'no server for the connection' : admitTlsConnection(socket, { ...found, tls: found.tls });
      if (refused !== undefined) {
        logger.debug('TLS connection refused', { listener: config.name, server: found?.name, reason: refused });
        socket.destroy();
        return;
      }
      serveHttp(socket, socket.alpnProtocol === 'h2');
    });
    // Node reports a failed or timed-out handshake here but leaves the connection open.
    server.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) => {
      logger.debug('TLS handshake failed', { listener: config.name, code: err.code, error: err.message });
      socket.destroy();
    });
    return entry;
  }

  const readHello = (socket: Socket): Promise<PeekOutcome> => {
    const peeking = peekClientHello(socket, { timeoutMs: timeouts.clientHelloMs });
    // A socket handed over paused (its first bytes read and put back) flows again for the peek.
    socket.resume();
    return peeking;
  };

  const acceptTls = async (socket: Socket, current: TlsServers, known: PeekOutcome | undefined) => {
    const hello = known ?? (await readHello(socket));
    const { config } = current;
    const server = hello.kind !== 'tls' ? undefined : hello.serverName === undefined ? config.tls?.defaultServer : config.servers.find(hello.serverName);
    const tlsServer = server?.tls === undefined ? undefined : current.servers.get(server.tls.contextKey)?.server;
    if (tlsServer === undefined) {
      // Not TLS, or a name no server of the port covers: closed, as Envoy finds no filter chain.
      logger.debug('TLS connection refused before the handshake', { listener: config.name, outcome: hello.kind, ...(hello.kind === 'tls' ? { sni: hello.serverName } : {}) });
      socket.destroy();
      return;
    }
    socket.unshift(hello.bytes);
    tlsServer.emit('connection', socket);
  };

  const accept = (socket: Socket, hello?: PeekOutcome) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    if (tls !== undefined) {
      if (tls.only !== undefined && hello === undefined) tls.only.emit('connection', socket);
      else void acceptTls(socket, tls, hello);
      return;
    }
    // A port that no longer terminates TLS: what was read goes back for the plaintext check.
    if (hello !== undefined) socket.unshift(hello.bytes);
    // Plaintext: h2c when the first bytes are the HTTP/2 preface, HTTP/1.1 otherwise.
    socket.once('data', (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      const prefix = Math.min(first.length, h2Preface.length);
      serveHttp(socket, first.subarray(0, prefix).equals(h2Preface.subarray(0, prefix)));
      process.nextTick(() => socket.resume());
    });
  };

  let closing: Promise<void> | undefined;
  return {
    accept,
    update(config) {
      // A port may also turn from TLS into plaintext HTTP2 (or back): new connections follow.
      tls = tlsServersFor(config, tls);
    },
    close(drainMs) {
      closing ??= drain(drainMs);
      return closing;
    },
  };

  /** Resolves when every connection is gone: closed by its client, finished, or destroyed at drainMs. */
  async function drain(drainMs: number): Promise<void> {
    draining = true;
    for (const { server } of tls?.servers.values() ?? []) options.ticketKeys.release(server);
    // Not listening, so this only stops node's header and request timeout checks.
    http1.close();
    // GOAWAY: streams in flight finish, no new ones start.
    for (const session of sessions.keys()) session.close();
    for (const [socket, inFlight] of http1InFlight) if (inFlight === 0) socket.destroy();
    const deadline = setTimeout(() => {
      for (const session of sessions.keys()) session.destroy();
      for (const socket of sockets) socket.destroy();
    }, drainMs);
    await Promise.all([...sockets].map((socket) => (socket.destroyed ? undefined : new Promise((resolve) => socket.once('close', resolve)))));
    clearTimeout(deadline);
  }
}

export async function createH2Listener(options: H2ListenerOptions): Promise<H2Listener> {
  const acceptor = createH2Acceptor(options);
  const front = createNetServer({ noDelay: true }, acceptor.accept);
  try {
    await new Promise<void>((resolve, reject) => {
      front.once('error', reject);
      front.listen(options.port, options.bind, () => {
        front.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    throw new MeshgateError('MG_ERR_LISTEN', `cannot listen on ${options.bind}:${options.port}`, { cause: err });
  }
  const bound = front.address();
  if (bound === null || typeof bound === 'string') throw new MeshgateError('MG_ERR_LISTEN', 'listener has no TCP address');
  const address = Object.freeze({ address: bound.address, port: bound.port });
  const connections = countConnections(front);

  let closing: Promise<void> | undefined;
  return {
    address: () => address,
    connections,
    accept: acceptor.accept,
    update: acceptor.update,
    close(drainMs) {
      closing ??= Promise.all([new Promise<void>((resolve) => front.close(() => resolve())), acceptor.close(drainMs)]).then(() => undefined);
      return closing;
    },
  };
}

/**
 * Node starts the checks of headersTimeout and requestTimeout when a server emits 'listening'
 * (setupConnectionsTracking); a server that is handed its connections never does, which would
 * leave a client sending half a header block connected for ever.
 */
function startRequestTimeouts(server: Http1Server): void {
  server.emit('listening');
}
