import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { pipeline, type Readable } from 'node:stream';
import Dispatcher from 'undici/lib/dispatcher/dispatcher.js';
import { MeshgateError } from '../errors.js';

// An HTTP/2 upstream (a service port whose protocol is HTTP2 or GRPC): one node:http2 session
// per endpoint, h2c with prior knowledge for http:// origins, every request a stream on it.
// It is an undici Dispatcher, so forwarding treats it as it treats a Pool. undici's own HTTP/2
// client is not used: 7.30 completes a response on the stream's 'end' and drops the trailers
// that arrive after it, and gRPC's status lives in those trailers.

export interface Http2UpstreamOptions {
  readonly connect: { readonly timeout: number };
  /** A session with no traffic for this long is closed. */
  readonly idleTimeoutMs: number;
}

class StreamController implements Dispatcher.DispatchController {
  aborted = false;
  paused = false;
  reason: Error | null = null;
  stream: ClientHttp2Stream | undefined;

  abort(reason: Error): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.stream?.close(constants.NGHTTP2_CANCEL);
  }

  pause(): void {
    this.paused = true;
    this.stream?.pause();
  }

  resume(): void {
    this.paused = false;
    this.stream?.resume();
  }
}

const grpcStatusHeaders = ['grpc-status', 'grpc-message', 'grpc-status-details-bin'];

function takeGrpcStatus(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const status: IncomingHttpHeaders = {};
  for (const name of grpcStatusHeaders) {
    if (headers[name] === undefined) continue;
    status[name] = headers[name];
    delete headers[name];
  }
  return status;
}

const connectionSpecific = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host']);

export class Http2Upstream extends Dispatcher {
  private session: ClientHttp2Session | undefined;
  private closed = false;

  constructor(
    private readonly origin: string,
    private readonly options: Http2UpstreamOptions,
  ) {
    super();
  }

  override dispatch(request: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const controller = new StreamController();
    handler.onRequestStart?.(controller, {});
    if (controller.aborted) return true;
    if (this.closed) {
      handler.onResponseError?.(controller, new MeshgateError('UF', 'upstream closed'));
      return true;
    }
    // An HTTP/1.1 upgrade (WebSocket) has no meaning on an HTTP/2 connection.
    if (request.upgrade) {
      handler.onResponseError?.(controller, new MeshgateError('UPE', 'an upgrade cannot be forwarded to an HTTP/2 upstream'));
      return true;
    }
    const fail = (err: Error) => {
      if (controller.aborted && controller.reason !== null) return;
      controller.aborted = true;
      handler.onResponseError?.(controller, err);
    };

    const headers: OutgoingHttpHeaders = { ':method': request.method, ':path': request.path };
    const given = (request.headers ?? {}) as Record<string, string | string[] | undefined>;
    for (const name in given) {
      const value = given[name];
      if (value === undefined) continue;
      if (name === 'host') headers[':authority'] = value;
      else if (!connectionSpecific.has(name)) headers[name] = value;
    }
    const body = request.body as Readable | Buffer | string | null | undefined;
    let stream: ClientHttp2Stream;
    try {
      stream = this.sessionNow().request(headers, { endStream: body === null || body === undefined });
    } catch (err) {
      fail(err as Error);
      return true;
    }
    controller.stream = stream;
    let trailers: IncomingHttpHeaders = {};
    let responded = false;
    stream.on('response', (response, flags) => {
      responded = true;
      const { [':status']: status, ...rest } = response;
      // gRPC's trailers-only answer (an error, mostly) ends the stream with its headers. Relayed
      // through a response that has started, its status must come as trailers to count at all.
      if ((flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0 && rest['grpc-status'] !== undefined) trailers = takeGrpcStatus(rest);
      handler.onResponseStart?.(controller, Number(status), rest as Record<string, string | string[]>, '');
      if (controller.paused) stream.pause();
    });
    stream.on('data', (chunk: Buffer) => {
      if (!controller.aborted) handler.onResponseData?.(controller, chunk);
    });
    stream.on('trailers', (received: IncomingHttpHeaders) => {
      trailers = received;
    });
    // A stream still pending when its session fails is canceled "caused by" the session's error
    // (ECONNREFUSED...), which is what says connection failure rather than reset.
    stream.once('error', (err: Error & { code?: string }) => fail(err.code === 'ERR_HTTP2_STREAM_CANCEL' && err.cause instanceof Error ? err.cause : err));
    // 'close' comes after both 'end' and 'trailers', whichever order those two come in.
    stream.once('close', () => {
      if (controller.aborted) return;
      if (!responded || stream.rstCode !== constants.NGHTTP2_NO_ERROR) {
        fail(new MeshgateError('UC', `upstream stream reset (code ${stream.rstCode})`));
        return;
      }
      handler.onResponseEnd?.(controller, trailers as Record<string, string | string[]>);
    });

    if (typeof body === 'string' || Buffer.isBuffer(body)) {
      stream.end(body);
    } else if (body !== null && body !== undefined) {
      pipeline(body, stream, (err) => {
        if (err && !controller.aborted) stream.close(constants.NGHTTP2_CANCEL);
      });
    }
    return true;
  }

  private sessionNow(): ClientHttp2Session {
    const current = this.session;
    if (current !== undefined && !current.closed && !current.destroyed) return current;
    const session = connect(this.origin, { settings: { enablePush: false } });
    const connectTimer = setTimeout(() => session.destroy(Object.assign(new Error('connect timeout'), { code: 'UND_ERR_CONNECT_TIMEOUT' })), this.options.connect.timeout);
    session.once('connect', () => clearTimeout(connectTimer));
    // Errors reach each stream; the session's own are only for its end.
    session.on('error', () => undefined);
    session.once('close', () => {
      clearTimeout(connectTimer);
      if (this.session === session) this.session = undefined;
    });
    // Stop sending new streams on a session the server is leaving.
    session.once('goaway', () => {
      if (this.session === session) this.session = undefined;
    });
    session.setTimeout(this.options.idleTimeoutMs, () => session.close());
    this.session = session;
    return session;
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    this.closed = true;
    const session = this.session;
    this.session = undefined;
    const done = new Promise<void>((resolve) => {
      if (session === undefined || session.closed) resolve();
      else session.close(() => resolve());
    });
    if (callback === undefined) return done;
    void done.then(callback);
  }

  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(errOrCallback?: Error | null | (() => void), callback?: () => void): Promise<void> | void {
    this.closed = true;
    this.session?.destroy();
    this.session = undefined;
    const cb = typeof errOrCallback === 'function' ? errOrCallback : callback;
    if (cb === undefined) return Promise.resolve();
    cb();
  }
}
