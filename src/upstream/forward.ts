import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import { MeshgateError, type ResponseFlag } from '../errors.js';
import { mapUpstreamError, resetAfterResponseStarted, upstreamFailures, type UpstreamFailure } from './error-map.js';
import { sendLocalReply, type ForwardOutcome } from './local-reply.js';
import { buildDownstreamResponseHeaders } from './request-headers.js';
import { noteRelayedBytes } from './relayed-bytes-gc.js';
import { requestHasBody } from './request-body.js';

export type { ForwardOutcome } from './local-reply.js';

// One proxied request (or one try of it): the client's body streams into undici's dispatch()
// and the upstream's body streams into the ServerResponse, each side pausing the other when it
// cannot keep up. Nothing is buffered beyond what the sockets hold, except a small body handed
// in whole so that a retry can send it again (retrying-forward.ts).

export interface ForwardOptions {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The pool of the chosen endpoint. */
  readonly dispatcher: Dispatcher;
  /** Path and query to request upstream (after any rewrite). */
  readonly path: string;
  /** Upstream request headers: request-headers.ts's, with the route's edits applied. */
  readonly headers: IncomingHttpHeaders;
  /** The route's timeout for the whole request (Istio `timeout`): 504 UT when it passes. */
  readonly timeoutMs?: number;
  /** Edits the response headers (route and destination `headers.response`, CORS) before they are sent. */
  readonly editResponseHeaders?: (headers: OutgoingHttpHeaders, status: number) => void;
  /** The request body read in advance, to send instead of streaming `req` (a retry replays it). */
  readonly body?: Buffer;
  /** Istio's perTryTimeout: this try alone; its expiry is a UT failure that `retry` may take. */
  readonly perTryTimeoutMs?: number;
  /** Asked before this try answers the client; true drops the try (nothing reaches the client) for another. */
  readonly retry?: {
    response(status: number, headers: Record<string, string | string[] | undefined>): boolean;
    failure(flag: ResponseFlag): boolean;
  };
}

/** A try's outcome: what the access log needs, and what outlier detection and retries read. */
export interface AttemptOutcome extends ForwardOutcome {
  /** The try was dropped for another one; the client saw nothing of it. */
  readonly retry?: boolean;
  /** The status the upstream answered with, relayed or not. */
  readonly upstreamStatus?: number;
}

/** Proxies one request; resolves (never rejects) when the client's response is over. */
export function forwardRequest(options: ForwardOptions): Promise<AttemptOutcome> {
  return new Promise((resolve) => {
    new UpstreamExchange(options, resolve).start();
  });
}

class UpstreamExchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private perTryTimer: NodeJS.Timeout | undefined;
  private upstreamStatus: number | undefined;
  private readonly startedAt = performance.now();
  private upstreamMs: number | undefined;
  private grpcStatus: string | undefined;
  private bytesReceived = 0;
  private bytesSent = 0;
  /** Set once the exchange has its answer (a failure, a timeout, the client leaving). */
  private failure: UpstreamFailure | undefined;
  private detail = 'via_upstream';
  private readonly hasBody: boolean;
  private readonly onClientClose = () => this.settle();

  constructor(
    private readonly options: ForwardOptions,
    private readonly resolve: (outcome: AttemptOutcome) => void,
  ) {
    this.hasBody = options.body === undefined ? requestHasBody(options.req) : options.body.length > 0;
    if (options.body !== undefined) this.bytesReceived = options.body.length;
  }

  start(): void {
    const { req, res, dispatcher, path, headers, timeoutMs, perTryTimeoutMs, body } = this.options;
    // 'close' comes after 'finish' on success, or alone when the client went away first. It
    // comes once: `on` spares the wrapper `once` makes for every request.
    res.on('close', this.onClientClose);
    if (timeoutMs !== undefined && timeoutMs > 0) this.timer = setTimeout(() => this.onTimeout(), timeoutMs);
    if (perTryTimeoutMs !== undefined) this.perTryTimer = setTimeout(() => this.onPerTryTimeout(), perTryTimeoutMs);
    dispatcher.dispatch(
      {
        method: req.method ?? 'GET',
        path,
        headers,
        body: this.hasBody ? (body ?? req) : null,
      },
      this,
    );
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.failure !== undefined) {
      controller.abort(new MeshgateError(this.failure.flag, 'upstream request abandoned'));
      return;
    }
    // Attached in the same tick in which undici starts reading the body, so no chunk is missed.
    if (this.hasBody && this.options.body === undefined) {
      this.options.req.on('data', (chunk: Buffer) => {
        this.bytesReceived += chunk.length;
        noteRelayedBytes(chunk.length);
      });
    }
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    upstreamHeaders: Record<string, string | string[] | undefined>,
  ): void {
    if (statusCode < 200 || this.failure !== undefined) return; // 1xx are not relayed
    const { res, editResponseHeaders, retry } = this.options;
    this.upstreamStatus = statusCode;
    if (retry?.response(statusCode, upstreamHeaders) === true) return this.drop(undefined);
    this.upstreamMs = Math.round(performance.now() - this.startedAt);
    // A trailers-only gRPC answer carries its status here; trailers, when they come, have the last word.
    this.grpcStatus = headerValue(upstreamHeaders['grpc-status']);
    const headers = buildDownstreamResponseHeaders(upstreamHeaders);
    headers['x-envoy-upstream-service-time'] = String(this.upstreamMs);
    editResponseHeaders?.(headers, statusCode);
    try {
      res.writeHead(statusCode, headers);
    } catch {
      // Node refused a header value the upstream sent: the response is not valid HTTP.
      this.fail(upstreamFailures.protocolError);
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.failure !== undefined) return;
    this.bytesSent += chunk.length;
    noteRelayedBytes(chunk.length);
    if (!this.options.res.write(chunk)) {
      controller.pause();
      this.options.res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, trailers: Record<string, string | string[] | undefined>): void {
    this.clearTimer();
    if (this.failure !== undefined) return;
    const { res } = this.options;
    this.grpcStatus = headerValue(trailers['grpc-status']) ?? this.grpcStatus;
    for (const _ in trailers) {
      res.addTrailers(trailers as OutgoingHttpHeaders);
      break;
    }
    res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    this.clearTimer();
    if (this.failure !== undefined) return; // we aborted it ourselves and have answered already
    this.failOrRetry(mapUpstreamError(err));
  }

  private onTimeout(): void {
    this.timer = undefined;
    if (this.failure !== undefined) return;
    this.fail(upstreamFailures.timeout);
  }

  private onPerTryTimeout(): void {
    this.perTryTimer = undefined;
    if (this.failure !== undefined) return;
    this.failOrRetry(upstreamFailures.timeout);
  }

  /** A failure of this try: another try takes over when the response has not started and the policy says so. */
  private failOrRetry(failure: UpstreamFailure): void {
    if (!this.options.res.headersSent && this.options.retry?.failure(failure.flag) === true) this.drop(failure);
    else this.fail(failure);
  }

  /** Drops this try for another: stops upstream, leaves the client alone, resolves now. */
  private drop(failure: UpstreamFailure | undefined): void {
    // Any failure marks the exchange as answered, so undici's later callbacks do nothing.
    this.failure = failure ?? upstreamFailures.downstreamDisconnect;
    this.options.res.off('close', this.onClientClose);
    this.clearTimer();
    const controller = this.controller;
    if (controller !== undefined && !controller.aborted) controller.abort(new MeshgateError('URX', 'try dropped for a retry'));
    this.resolve({
      status: 0,
      ...(failure === undefined ? {} : { flag: failure.flag, detail: failure.detail }),
      retry: true,
      bytesReceived: this.bytesReceived,
      bytesSent: 0,
      ...(this.upstreamStatus === undefined ? {} : { upstreamStatus: this.upstreamStatus }),
    });
  }

  /** Answers the client for a failure (or resets it, when the response has started) and stops upstream. */
  private fail(failure: UpstreamFailure): void {
    this.failure = failure;
    const { res } = this.options;
    // After DC nobody is listening; otherwise answer, or reset a response already under way.
    if (failure.flag !== 'DC' && res.headersSent) {
      this.detail = resetAfterResponseStarted;
      res.destroy();
    } else if (failure.flag !== 'DC') {
      this.detail = failure.detail;
      this.bytesSent = sendLocalReply(res, failure.status, failure.body, failure.flag).bytesSent;
    }
    const controller = this.controller;
    if (controller !== undefined && !controller.aborted) {
      controller.abort(new MeshgateError(failure.flag, 'upstream request abandoned'));
    }
  }

  private settle(): void {
    this.clearTimer();
    const { res } = this.options;
    if (!res.writableFinished && this.failure === undefined) {
      // The client went away before its response was complete: stop the upstream too.
      this.fail(upstreamFailures.downstreamDisconnect);
      this.detail = upstreamFailures.downstreamDisconnect.detail;
    }
    this.resolve({
      status: res.headersSent ? res.statusCode : 0,
      flag: this.failure?.flag,
      detail: this.detail,
      bytesReceived: this.bytesReceived,
      bytesSent: this.bytesSent,
      upstreamMs: this.upstreamMs,
      upstreamStatus: this.upstreamStatus,
      grpcStatus: this.grpcStatus,
    });
  }

  private clearTimer(): void {
    clearTimeout(this.timer);
    clearTimeout(this.perTryTimer);
    this.timer = undefined;
    this.perTryTimer = undefined;
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
