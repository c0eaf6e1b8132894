import { STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { MeshgateError } from '../errors.js';
import { mapUpstreamError, upstreamFailures, type UpstreamFailure } from './error-map.js';
import type { ForwardOutcome } from './local-reply.js';
import { buildDownstreamResponseHeaders } from './request-headers.js';
import { noteRelayedBytes } from './relayed-bytes-gc.js';

// An Upgrade request (WebSocket) goes through the endpoint's undici pool like any request, so
// it reaches the endpoint the same way (TLS origination, connect timeout) and fails through
// the same error map. dispatch() rather than pool.upgrade(): upgrade() turns an upstream's
// refusal (a 401, a 404) into a 'bad upgrade' error, where Envoy relays that response as is.
// After the 101 the two sockets are piped into each other; either closing closes the other.

export interface WebSocketProxyOptions {
  readonly req: IncomingMessage;
  /** The client's socket, as the listener's onUpgrade received it. */
  readonly socket: Duplex;
  /** Bytes the client sent after its request head (the first frames, usually none). */
  readonly head: Buffer;
  /** The pool of the chosen endpoint. */
  readonly dispatcher: Dispatcher;
  readonly path: string;
  /** Upstream request headers: request-headers.ts's, with the route's edits applied. */
  readonly headers: IncomingHttpHeaders;
  /** Edits the 101 (or refusal) headers before they reach the client. */
  readonly editResponseHeaders?: (headers: OutgoingHttpHeaders, status: number) => void;
}

/** Proxies one upgrade; resolves (never rejects) once both sides are closed. */
export function proxyWebSocket(options: WebSocketProxyOptions): Promise<ForwardOutcome> {
  return new Promise((resolve) => {
    new UpgradeExchange(options, resolve).start();
  });
}

class UpgradeExchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private status = 0;
  private flag: UpstreamFailure['flag'] | undefined;
  private detail = 'via_upstream';
  private bytesReceived = 0;
  private bytesSent = 0;
  private upstreamSocket: Duplex | undefined;
  private clientGone = false;
  private readonly resumeUpstream = () => this.controller?.resume();

  constructor(
    private readonly options: WebSocketProxyOptions,
    private readonly resolve: (outcome: ForwardOutcome) => void,
  ) {}

  start(): void {
    const { req, socket, dispatcher, path, headers } = this.options;
    socket.on('error', () => socket.destroy());
    socket.once('close', () => this.onClientClose());
    dispatcher.dispatch(
      { method: req.method ?? 'GET', path, headers, upgrade: upgradeProtocol(req), body: null },
      this,
    );
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.clientGone) controller.abort(new MeshgateError('DC', 'client closed before the upgrade'));
  }

  onRequestUpgrade(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    upstreamHeaders: Record<string, string | string[] | undefined>,
    upstream: Duplex,
  ): void {
    const client = this.options.socket;
    this.upstreamSocket = upstream;
    if (this.clientGone) {
      upstream.destroy();
      return;
    }
    this.status = statusCode;
    const headers = buildDownstreamResponseHeaders(upstreamHeaders);
    this.options.editResponseHeaders?.(headers, statusCode);
    // The upgrade's own hop-by-hop pair is what makes it a 101: it belongs on this hop too.
    headers.connection = 'Upgrade';
    const protocol = upstreamHeaders.upgrade;
    headers.upgrade = typeof protocol === 'string' ? protocol : upgradeProtocol(this.options.req);
    client.write(responseHead(statusCode, headers));

    if (this.options.head.length > 0) upstream.write(this.options.head);
    upstream.on('data', (chunk: Buffer) => {
      this.bytesSent += chunk.length;
      noteRelayedBytes(chunk.length);
    });
    client.on('data', (chunk: Buffer) => {
      this.bytesReceived += chunk.length;
      noteRelayedBytes(chunk.length);
    });
    upstream.pipe(client);
    client.pipe(upstream);
    upstream.on('error', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  }

  /** The upstream answered without upgrading: relay that answer and close. */
  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    upstreamHeaders: Record<string, string | string[] | undefined>,
  ): void {
    if (statusCode < 200 || this.clientGone) return;
    this.status = statusCode;
    const headers = buildDownstreamResponseHeaders(upstreamHeaders);
    this.options.editResponseHeaders?.(headers, statusCode);
    headers.connection = 'close';
    this.options.socket.write(responseHead(statusCode, headers));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.clientGone) return;
    this.bytesSent += chunk.length;
    if (!this.options.socket.write(chunk)) {
      controller.pause();
      this.options.socket.once('drain', this.resumeUpstream);
    }
  }

  onResponseEnd(): void {
    this.options.socket.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    const client = this.options.socket;
    if (this.clientGone) return;
    if (this.status !== 0) {
      // The refusal's body broke off half-way: all that is left is to cut the connection.
      client.destroy();
      return;
    }
    const failure = mapUpstreamError(err);
    this.status = failure.status;
    this.flag = failure.flag;
    this.detail = failure.detail;
    const body = Buffer.from(failure.body);
    this.bytesSent = body.length;
    client.write(
      responseHead(failure.status, { 'content-type': 'text/plain', 'content-length': body.length, connection: 'close' }),
    );
    client.end(body);
  }

  private onClientClose(): void {
    this.clientGone = true;
    if (this.upstreamSocket !== undefined) {
      this.upstreamSocket.destroy();
    } else {
      if (this.status === 0) {
        // Closed before the upstream answered: nobody wants the upgrade any more.
        this.flag = upstreamFailures.downstreamDisconnect.flag;
        this.detail = upstreamFailures.downstreamDisconnect.detail;
      }
      // (A no-op when the upstream's answer is already complete.)
      if (this.controller !== undefined && !this.controller.aborted) {
        this.controller.abort(new MeshgateError('DC', 'client closed before the upgrade'));
      }
    }
    this.resolve({
      status: this.status,
      flag: this.flag,
      detail: this.detail,
      bytesReceived: this.bytesReceived,
      bytesSent: this.bytesSent,
    });
  }
}

function upgradeProtocol(req: IncomingMessage): string {
  return req.headers.upgrade ?? 'websocket';
}

/** An HTTP/1.1 status line and header block, for a socket no ServerResponse owns. */
function responseHead(status: number, headers: OutgoingHttpHeaders): string {
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) {
      for (const item of value) head += `${name}: ${item}\r\n`;
    } else {
      head += `${name}: ${value}\r\n`;
    }
  }
  return `${head}\r\n`;
}
