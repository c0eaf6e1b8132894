import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { MeshgateError } from '../errors.js';
import { boundAddress } from './bound-address.js';
import { countConnections } from './connection-count.js';
import type { Logger } from '../log.js';

// A plain-HTTP listener: fastify owns the socket, the parser, keep-alive and graceful close;
// meshgate owns everything after the request line. One catch-all handler hands the raw req/res
// over untouched (no body parsing, no URL normalisation), so the bytes and the path the client
// sent are the ones routed and forwarded.

export interface HttpListenerOptions {
  readonly bind: string;
  /** 0 picks a free port; address() tells which. */
  readonly port: number;
  readonly logger: Logger;
  /** Every request, whatever its method, path or content type; its body is still unread. */
  onRequest(req: IncomingMessage, res: ServerResponse): void;
  /** Every request carrying `Upgrade` (WebSocket, h2c): the socket is the handler's from here. */
  onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

export interface HttpListener {
  address(): { address: string; port: number };
  /** Downstream connections open now. */
  connections(): number;
  /**
   * Stops accepting, closes idle keep-alive connections at once, lets in-flight requests finish
   * for up to drainMs (their responses carry `connection: close`), then destroys what is left.
   */
  close(drainMs: number): Promise<void>;
}

export async function createHttpListener(options: HttpListenerOptions): Promise<HttpListener> {
  const { logger, onRequest, onUpgrade } = options;
  const handOver = (request: FastifyRequest, reply: FastifyReply): void => {
    reply.hijack();
    try {
      onRequest(request.raw, reply.raw);
    } catch (err) {
      logger.error('request handler threw', { err });
      reply.raw.destroy();
    }
  };

  const app = Fastify({
    logger: false,
    // While draining, in-flight and pipelined requests are still served, with `connection: close`.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    // A malformed URL is still a request: the router answers it (404 NR), not fastify.
    frameworkErrors: (_error, request, reply) => handOver(request, reply),
    clientErrorHandler: (err, socket) => answerClientError(err, socket, logger),
    // Nothing here has a schema, so these never compile one; fastify's defaults would load ajv
    // and fast-json-stringify all the same (about 1 MiB of V8 heap in every worker).
    schemaController: { compilersFactory: { buildValidator: noSchemaCompiler, buildSerializer: noSchemaCompiler } },
  });

  // The hand-over happens in onRequest, before fastify looks at the body at all: it would
  // refuse a content type it cannot parse (415) or a QUERY without one (400), and bodies must
  // stream through to the upstream untouched. After hijack() fastify's own lifecycle stops.
  app.addHook('onRequest', (request, reply, done) => {
    handOver(request, reply);
    done();
  });
  // One catch-all route so that every request takes fastify's matched-route path; the 404
  // handler catches the rest (methods `all` does not list, absolute-form targets). Neither
  // handler runs: the hook above has answered by then.
  app.all('*', noHandler);
  app.setNotFoundHandler(noHandler);

  const connections = countConnections(app.server);
  const upgraded = new Set<Duplex>();
  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    onUpgrade(req, socket, head);
  });

  try {
    await app.listen({ host: options.bind, port: options.port });
  } catch (err) {
    await app.close().catch(() => undefined);
    throw new MeshgateError('MG_ERR_LISTEN', `cannot listen on ${options.bind}:${options.port}`, { cause: err });
  }
  const address = boundAddress(app.server);

  let closing: Promise<void> | undefined;
  return {
    address: () => address,
    connections,
    close(drainMs) {
      closing ??= drainThenClose(drainMs);
      return closing;
    },
  };

  async function drainThenClose(drainMs: number): Promise<void> {
    const deadline = setTimeout(() => {
      app.server.closeAllConnections();
      for (const socket of upgraded) socket.destroy();
    }, drainMs);
    // A keep-alive connection whose request was in flight when the drain began turns idle when
    // its response is done; node only closes idle connections when asked, so ask while draining.
    const reaper = setInterval(() => app.server.closeIdleConnections(), idleReapIntervalMs);
    await app.close();
    clearInterval(reaper);
    clearTimeout(deadline);
  }
}

const idleReapIntervalMs = 20;

function noHandler(): void {}

function noSchemaCompiler(): () => never {
  return () => {
    throw new Error('meshgate registers no route with a schema');
  };
}

/**
 * Node's parser refused the request (bad request line, header too large, timeout): answer as
 * node does by default, with the status that fits and no body (fastify's default sends JSON),
 * then close.
 */
export function answerClientError(err: Error & { code?: string }, socket: Socket, logger: Logger): void {
  logger.debug('client error', { code: err.code });
  const response = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || response?.headersSent) {
    socket.destroy();
    return;
  }
  const status = clientErrorStatus[err.code ?? ''] ?? '400 Bad Request';
  socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
}

const clientErrorStatus: Readonly<Record<string, string>> = Object.freeze({
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: '413 Payload Too Large',
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
});
