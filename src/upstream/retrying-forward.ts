// A proxied request as a series of tries, Envoy's router with a retry policy: each try takes an
// endpoint lease (503 UO past a circuit-breaking limit), forwards, reports its result to outlier
// detection, and is dropped for another try only while nothing has reached the client. The
// route timeout spans all tries; perTryTimeout bounds each. A body is replayed only when it was
// small enough to hold (bodyReplayLimit); a bigger or chunked one streams once, never retried.

import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ResponseFlag } from '../errors.js';
import type { Cluster, UpstreamLease } from './cluster.js';
import { upstreamFailures, type UpstreamFailure } from './error-map.js';
import { forwardRequest, type AttemptOutcome } from './forward.js';
import type { PickContext } from './lb/index.js';
import { sendLocalReply, type ForwardOutcome } from './local-reply.js';
import { backoffDelayMs, type RetryPolicy } from './retry-policy.js';
import { requestHasBody } from './request-body.js';

/** The largest request body held for replay (Envoy buffers up to its per-request limit too). */
export const bodyReplayLimit = 64 * 1024;

export interface RetryingForwardOptions {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly cluster: Cluster;
  /** The first try's lease, already taken. */
  readonly lease: UpstreamLease;
  /** The request's consistent-hash key, kept for every try. */
  readonly pick: PickContext;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly timeoutMs?: number;
  /** Absent: one try. */
  readonly retry?: RetryPolicy;
  readonly editResponseHeaders?: (headers: OutgoingHttpHeaders, status: number) => void;
  /** Told the endpoint of each try, so the access log names the last. */
  onTry(endpoint: string): void;
}

/** The outcome, with a second response flag when a wanted retry could not happen. */
export interface RetryingOutcome extends ForwardOutcome {
  /** URX: tries ran out; UO: maxRetries retries were in flight. Logged after `flag` ("UF,URX"). */
  readonly extraFlag?: 'URX' | 'UO';
}

export function forwardWithRetries(options: RetryingForwardOptions): Promise<RetryingOutcome> {
  return new RetryingForward(options).run();
}

/**
 * One request's tries. It is also what each try asks before it answers the client (the retry
 * hooks of forward.ts), so a request costs one object here rather than a closure per hook.
 */
class RetryingForward {
  /** Absent once a body too big to hold streams: no retry may send it again. */
  private policy: RetryPolicy | undefined;
  private retries = 0;
  /** Why a try the policy would retry was not: Envoy flags it on the request. */
  private noRetry: 'URX' | 'UO' | undefined;
  /** A maxRetries slot taken for the next try, held while that try runs. */
  private nextSlot = false;

  constructor(private readonly options: RetryingForwardOptions) {
    this.policy = options.retry;
  }

  async run(): Promise<RetryingOutcome> {
    const { options } = this;
    const { req, res, cluster, headers } = options;
    // Most requests have no body: they go on in this turn, without a promise to wait for.
    const body = this.policy === undefined || !requestHasBody(req) ? undefined : await replayableBody(req);
    if (body === 'gone') {
      options.lease.release();
      return { status: 0, flag: 'DC', detail: upstreamFailures.downstreamDisconnect.detail, bytesReceived: 0, bytesSent: 0 };
    }
    // Envoy's route timeout runs from the end of the request (here, of a body read in advance) over all tries.
    const deadline = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs;
    if (body === 'stream') this.policy = undefined;
    const policy = this.policy;
    // The endpoints of failed tries, for a retry that avoids them; made at the first retry.
    let tried: Set<string> | undefined;
    let lease: UpstreamLease | undefined = options.lease;

    for (let tryNumber = 1; ; tryNumber++) {
      const trySlot = this.nextSlot;
      this.nextSlot = false;
      if (cluster.overflows(lease)) {
        if (trySlot) cluster.breaker.endRetry();
        lease.release();
        return localFailure(res, upstreamFailures.overflow, body);
      }
      options.onTry(lease.key);
      // Envoy's x-envoy-attempt-count, which Istio turns on for every route.
      headers['x-envoy-attempt-count'] = String(tryNumber);
      let outcome: AttemptOutcome;
      try {
        outcome = await forwardRequest({
          req,
          res,
          dispatcher: lease.pool,
          path: options.path,
          headers,
          timeoutMs: deadline === undefined ? undefined : Math.max(deadline - Date.now(), 1),
          perTryTimeoutMs: policy?.perTryTimeoutMs,
          body: body instanceof Buffer ? body : undefined,
          retry: policy === undefined ? undefined : this,
          editResponseHeaders: options.editResponseHeaders,
        });
      } finally {
        lease.release();
        if (trySlot) cluster.breaker.endRetry();
      }
      cluster.report(lease, outcome.upstreamStatus === undefined ? { flag: outcome.flag } : { status: outcome.upstreamStatus });
      if (outcome.retry !== true) return finalOutcome(outcome, this.noRetry);
      (tried ??= new Set()).add(lease.key);

      this.retries++;
      const wait = backoffDelayMs(policy!, this.retries);
      const left = deadline === undefined ? Infinity : deadline - Date.now();
      await sleep(Math.min(wait, Math.max(left, 0)));
      if (res.destroyed || req.socket.destroyed) {
        this.giveBackSlot();
        return { status: 0, flag: 'DC', detail: upstreamFailures.downstreamDisconnect.detail, bytesReceived: outcome.bytesReceived, bytesSent: 0 };
      }
      if (deadline !== undefined && Date.now() >= deadline) {
        this.giveBackSlot();
        return localFailure(res, upstreamFailures.timeout, body);
      }
      // istiod drops the previous-hosts predicate for consistent hashing: a retry stays on the key's endpoint.
      lease = nextLease(cluster, options.pick, policy!.avoidPreviousHosts && options.pick.hashKey === undefined ? tried : undefined);
      if (lease === undefined) {
        this.giveBackSlot();
        return localFailure(res, upstreamFailures.noHealthyUpstream, body);
      }
    }
  }

  /** A try's response: true drops it for another try (forward.ts's retry hook). */
  response(status: number, upstreamHeaders: Record<string, string | string[] | undefined>): boolean {
    return this.policy!.retriableResponse(status, upstreamHeaders) && this.mayRetry();
  }

  /** A try that got no response: true drops it for another try. */
  failure(flag: ResponseFlag): boolean {
    return this.policy!.retriableFailure(flag) && this.mayRetry();
  }

  /** Whether this try may give way to another: retries left and a maxRetries slot free. */
  private mayRetry(): boolean {
    if (this.retries >= this.policy!.retries) {
      this.noRetry = 'URX';
      return false;
    }
    this.nextSlot = this.options.cluster.breaker.startRetry();
    if (!this.nextSlot) this.noRetry = 'UO';
    return this.nextSlot;
  }

  private giveBackSlot(): void {
    if (this.nextSlot) this.options.cluster.breaker.endRetry();
    this.nextSlot = false;
  }
}

// Envoy's previous_hosts predicate: another endpoint when one is left, else any.
function nextLease(cluster: Cluster, pick: PickContext, avoid: ReadonlySet<string> | undefined): UpstreamLease | undefined {
  if (avoid !== undefined) {
    const other = cluster.choose({ ...pick, exclude: avoid });
    if (other !== undefined) return other;
  }
  return cluster.choose(pick);
}

function finalOutcome(outcome: AttemptOutcome, noRetry: 'URX' | 'UO' | undefined): RetryingOutcome {
  // The try's own fields (retry, upstreamStatus) ride along unread: copying the outcome without them costs every request.
  if (noRetry === undefined) return outcome;
  // The last answer goes to the client as it came: a relayed one carries the flag alone, a failure keeps its own first.
  return outcome.flag === undefined ? { ...outcome, flag: noRetry } : { ...outcome, extraFlag: noRetry };
}

function localFailure(res: ServerResponse, failure: UpstreamFailure, body: Buffer | 'stream' | undefined): RetryingOutcome {
  const outcome = sendLocalReply(res, failure.status, failure.body, failure.flag);
  return { ...outcome, detail: failure.detail, bytesReceived: body instanceof Buffer ? body.length : 0 };
}

/**
 * The body of a request that has one, read whole when its declared length fits the replay
 * limit; 'stream' when it does not (or is chunked) and must be streamed once; 'gone' when the
 * client left while it was read.
 */
async function replayableBody(req: IncomingMessage): Promise<Buffer | 'stream' | 'gone'> {
  const { headers } = req;
  // Chunked, or HTTP/2 without a declared length (gRPC): streamed once.
  if (headers['transfer-encoding'] !== undefined || headers['content-length'] === undefined) return 'stream';
  const length = Number(headers['content-length']);
  if (!(length <= bodyReplayLimit)) return 'stream';
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of req) chunks.push(chunk as Buffer);
  } catch {
    return 'gone';
  }
  return req.complete ? Buffer.concat(chunks) : 'gone';
}
