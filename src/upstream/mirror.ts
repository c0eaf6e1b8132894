import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Logger } from '../log.js';
import { drawn } from '../routing/chance.js';
import type { UpstreamLease } from './cluster.js';
import { requestHasBody } from './request-body.js';

// Traffic mirroring (Istio `mirror`/`mirrors`, Envoy's request_mirror_policies): a
// fire-and-forget copy of a request to another cluster, with "-shadow" appended to the host of
// the authority as Envoy does. The copy never holds the primary back: its body is a tee of the
// chunks the primary reads (the primary keeps its own backpressure, the copy is dropped when it
// falls too far behind), its response is discarded, and its failures only count.

/** One compiled mirror of a route: the cluster the copies go to and the share of requests copied. */
export interface MirrorPolicy {
  readonly cluster: string;
  /** Istio's percentage as a fraction of 1. */
  readonly chance: number;
}

export interface MirrorRequest {
  readonly req: IncomingMessage;
  /** Path and query sent upstream (after any rewrite). */
  readonly path: string;
  /** The primary's upstream headers (after rewrites and header edits); the copy changes only the host. */
  readonly headers: IncomingHttpHeaders;
  /** The route's timeout, which Envoy gives its shadow requests too. */
  readonly timeoutMs?: number;
  /** An endpoint of the mirror cluster, as the primary gets one. */
  lease(cluster: string): Promise<UpstreamLease | undefined>;
}

export interface MirrorCounts {
  readonly inFlight: number;
  readonly sent: number;
  readonly failed: number;
  readonly dropped: number;
}

export interface Mirrors {
  /**
   * Starts the copies this request is drawn for. Returns undefined when there are none, else a
   * function to call once the primary exchange is over: a copy whose body has not fully arrived
   * by then is abandoned, since the rest of the body will not be read.
   */
  start(policies: readonly MirrorPolicy[], request: MirrorRequest): (() => void) | undefined;
  counts(cluster: string): MirrorCounts;
}

export interface MirrorOptions {
  readonly logger: Logger;
  /** Copies in flight per mirror cluster in this worker; past it a copy is dropped and counted. */
  readonly maxInFlight?: number;
}

const DEFAULT_MIRROR_MAX_IN_FLIGHT = 256;
/** Body bytes a copy may hold while its upstream reads slower than the client sends. */
const MAX_BUFFERED_BODY = 256 * 1024;
/** A steady stream of drops is logged at most this often per cluster. */
const DROP_LOG_INTERVAL_MS = 10_000;

interface ClusterState {
  inFlight: number;
  sent: number;
  failed: number;
  dropped: number;
  droppedAtLastLog: number;
  lastDropLog: number;
}

export function createMirrors(options: MirrorOptions): Mirrors {
  const { logger } = options;
  const maxInFlight = options.maxInFlight ?? DEFAULT_MIRROR_MAX_IN_FLIGHT;
  const states = new Map<string, ClusterState>();

  const stateOf = (cluster: string): ClusterState => {
    let state = states.get(cluster);
    if (state === undefined) {
      state = { inFlight: 0, sent: 0, failed: 0, dropped: 0, droppedAtLastLog: 0, lastDropLog: 0 };
      states.set(cluster, state);
    }
    return state;
  };

  const drop = (cluster: string, state: ClusterState) => {
    state.dropped++;
    const now = Date.now();
    if (now - state.lastDropLog < DROP_LOG_INTERVAL_MS) return;
    logger.warn('mirror requests dropped: too many in flight', {
      cluster,
      maxInFlight,
      dropped: state.dropped - state.droppedAtLastLog,
      droppedTotal: state.dropped,
    });
    state.lastDropLog = now;
    state.droppedAtLastLog = state.dropped;
  };

  const settle = (cluster: string, state: ClusterState) => (err: Error | undefined) => {
    state.inFlight--;
    if (err === undefined) return;
    state.failed++;
    logger.debug('mirror request failed', { cluster, err });
  };

  return {
    start(policies, request) {
      let copies: ShadowExchange[] | undefined;
      for (const { cluster, chance } of policies) {
        if (!drawn(chance)) continue;
        const state = stateOf(cluster);
        if (state.inFlight >= maxInFlight) {
          drop(cluster, state);
          continue;
        }
        state.inFlight++;
        state.sent++;
        const copy = new ShadowExchange(request, settle(cluster, state));
        copy.begin(cluster);
        (copies ??= []).push(copy);
      }
      if (copies === undefined) return undefined;
      return () => {
        for (const copy of copies) copy.primaryDone();
      };
    },
    counts(cluster) {
      const { inFlight, sent, failed, dropped } = stateOf(cluster);
      return { inFlight, sent, failed, dropped };
    },
  };
}

/** Envoy's shadow host: "-shadow" after the host, before any port ("foo:8080" -> "foo-shadow:8080"). */
export function shadowAuthority(authority: string): string {
  const colon = authority.lastIndexOf(':');
  // A colon inside an IPv6 literal's brackets is not a port separator.
  if (colon === -1 || authority.lastIndexOf(']') > colon) return `${authority}-shadow`;
  return `${authority.slice(0, colon)}-shadow${authority.slice(colon)}`;
}

class ShadowAbandoned extends Error {
  constructor(reason: string) {
    super(`mirror request abandoned: ${reason}`);
    this.name = 'ShadowAbandoned';
  }
}

/** One copy: tees the client's body, leases an endpoint, sends, and discards the answer. */
class ShadowExchange implements Dispatcher.DispatchHandler {
  private body: PassThrough | undefined;
  private bodyComplete = true;
  private detachTee: (() => void) | undefined;
  private controller: Dispatcher.DispatchController | undefined;
  private lease: UpstreamLease | undefined;
  private timer: NodeJS.Timeout | undefined;
  private finished = false;

  constructor(
    private readonly request: MirrorRequest,
    private readonly onFinish: (err: Error | undefined) => void,
  ) {}

  begin(cluster: string): void {
    const { req, path, headers, timeoutMs } = this.request;
    // The tee goes on before anything can read the body, so the copy sees every chunk.
    if (requestHasBody(req)) this.tee(req);
    if (timeoutMs !== undefined && timeoutMs > 0) this.timer = setTimeout(() => this.abandon('timeout'), timeoutMs);
    const shadowHeaders = { ...headers, host: shadowAuthority(String(headers.host ?? '')) };
    this.request.lease(cluster).then(
      (lease) => {
        if (this.finished) return lease?.release();
        if (lease === undefined) return this.finish(new ShadowAbandoned('no healthy endpoint'));
        this.lease = lease;
        lease.pool.dispatch({ method: req.method ?? 'GET', path, headers: shadowHeaders, body: this.body ?? null }, this);
      },
      (err: unknown) => this.finish(err instanceof Error ? err : new ShadowAbandoned(String(err))),
    );
  }

  primaryDone(): void {
    if (!this.bodyComplete) this.abandon('the client body was not read to its end');
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.finished) controller.abort(new ShadowAbandoned('already finished'));
  }

  onResponseStart(): void {}

  onResponseData(): void {}

  onResponseEnd(): void {
    this.finish(undefined);
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    this.finish(err);
  }

  private tee(req: IncomingMessage): void {
    const body = new PassThrough();
    this.body = body;
    this.bodyComplete = false;
    const onData = (chunk: Buffer) => {
      if (body.writableLength + chunk.length > MAX_BUFFERED_BODY) this.abandon('the mirror reads slower than the client sends');
      else body.write(chunk);
    };
    const onEnd = () => {
      this.bodyComplete = true;
      this.detachTee?.();
      body.end();
    };
    const onClose = () => {
      if (!this.bodyComplete) this.abandon('the client body ended early');
    };
    // Paused, a 'data' listener does not start the flow: the primary's reader does.
    req.pause();
    req.on('data', onData).on('end', onEnd).on('close', onClose);
    this.detachTee = () => {
      this.detachTee = undefined;
      req.off('data', onData).off('end', onEnd).off('close', onClose);
    };
  }

  private abandon(reason: string): void {
    if (this.finished) return;
    const err = new ShadowAbandoned(reason);
    this.body?.destroy();
    if (this.controller !== undefined && !this.controller.aborted) this.controller.abort(err);
    this.finish(err);
  }

  private finish(err: Error | undefined): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.detachTee?.();
    this.lease?.release();
    this.onFinish(err);
  }
}
