import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServerHttp2Stream } from 'node:http2';
import type { HTTPFaultInjection } from '../../config/kinds/virtual-service.js';
import { sendLocalReply, type ForwardOutcome } from '../../upstream/local-reply.js';
import { upstreamFailures } from '../../upstream/error-map.js';
import { drawn } from '../../routing/chance.js';
import { grpcStatusCodes } from './grpc-status.js';

// Istio's HTTPFaultInjection as Envoy's fault filter runs it, in front of the router: a delay
// before anything is forwarded, then an abort answered by the gateway itself. The two are drawn
// independently (the proto: "Delay and abort faults are independent of one another"), the abort
// after the delay (routing/chance.ts draws each).

export interface FaultConfig {
  /** Istio `delay.fixedDelay`; `chance` is the percentage as a fraction of 1. */
  readonly delay?: { readonly ms: number; readonly chance: number };
  /** Istio `abort`: the status the client gets, or a gRPC status in a 200 for gRPC requests. */
  readonly abort?: { readonly chance: number; readonly httpStatus: number; readonly grpcStatus?: number };
}

/** The body of Envoy's abort reply, which tools and tests look for. */
const faultAbortBody = 'fault filter abort';
const faultAbortDetail = 'fault_filter_abort';

/**
 * Compiles a validated fault (validation has refused exponentialDelay and http2Error, as Istio
 * does). A missing percentage is 0, as in current Istio ("If left unspecified, no request will
 * be delayed/aborted"); the deprecated integer `delay.percent` counts when `percentage` is absent.
 */
export function compileFault(spec: HTTPFaultInjection): FaultConfig {
  const { delay, abort } = spec;
  const delayPercent = delay?.percentage !== undefined ? (delay.percentage.value ?? 0) : (delay?.percent ?? 0);
  const grpcStatus = abort?.grpcStatus === undefined ? undefined : grpcStatusCodes[abort.grpcStatus];
  return Object.freeze({
    ...(delay?.fixedDelay === undefined ? {} : { delay: Object.freeze({ ms: delay.fixedDelay, chance: delayPercent / 100 }) }),
    ...(abort === undefined || (abort.httpStatus === undefined && grpcStatus === undefined)
      ? {}
      : {
          abort: Object.freeze({
            chance: (abort.percentage?.value ?? 0) / 100,
            // Envoy answers a gRPC abort with HTTP 200 (and grpc-status for gRPC requests).
            httpStatus: abort.httpStatus ?? 200,
            ...(grpcStatus === undefined ? {} : { grpcStatus }),
          }),
        }),
  });
}

/** What the fault did: `outcome` is set when the gateway has answered (abort) or the client left during the delay. */
export interface FaultResult {
  readonly delayed: boolean;
  readonly outcome?: ForwardOutcome;
}

const notDelayed: FaultResult = Object.freeze({ delayed: false });
const delayedOnly: FaultResult = Object.freeze({ delayed: true });

/** Runs a route's fault; synchronous unless the request is delayed. */
export function runFault(fault: FaultConfig, req: IncomingMessage, res: ServerResponse): FaultResult | Promise<FaultResult> {
  const { delay } = fault;
  if (delay === undefined || !drawn(delay.chance)) return abortOrPass(fault, req, res, false);
  return waitUnlessClosed(delay.ms, res).then((clientLeft) =>
    clientLeft ? { delayed: true, outcome: clientGone } : abortOrPass(fault, req, res, true),
  );
}

function abortOrPass(fault: FaultConfig, req: IncomingMessage, res: ServerResponse, delayed: boolean): FaultResult {
  const { abort } = fault;
  if (abort === undefined || !drawn(abort.chance)) return delayed ? delayedOnly : notDelayed;
  return { delayed, outcome: { ...sendAbort(abort, req, res), detail: faultAbortDetail } };
}

// Envoy's local reply to a gRPC request is "trailers-only": status 200 and grpc-status in the
// only header block. A request that is not gRPC gets the plain 200 with Envoy's body.
function sendAbort(abort: NonNullable<FaultConfig['abort']>, req: IncomingMessage, res: ServerResponse): ForwardOutcome {
  if (abort.grpcStatus !== undefined && isGrpc(req)) {
    const headers = {
      'content-type': 'application/grpc',
      'grpc-status': String(abort.grpcStatus),
      // gRPC percent-encodes only bytes outside printable ASCII: this message goes as it is.
      'grpc-message': faultAbortBody,
    };
    // On HTTP/2 the header block itself must end the stream: a gRPC client reads grpc-status
    // from it only then (the compatibility API would send an empty DATA frame to end it).
    const http2Stream = (res as { stream?: ServerHttp2Stream }).stream;
    if (http2Stream === undefined) return { ...sendLocalReply(res, 200, '', 'FI', headers), grpcStatus: headers['grpc-status'] };
    http2Stream.respond({ ':status': 200, ...headers }, { endStream: true });
    return { status: 200, flag: 'FI', bytesReceived: 0, bytesSent: 0, grpcStatus: headers['grpc-status'] };
  }
  return sendLocalReply(res, abort.httpStatus, faultAbortBody, 'FI');
}

function isGrpc(req: IncomingMessage): boolean {
  return req.headers['content-type']?.startsWith('application/grpc') === true;
}

const clientGone: ForwardOutcome = Object.freeze({
  status: 0,
  flag: 'DC',
  detail: upstreamFailures.downstreamDisconnect.detail,
  bytesReceived: 0,
  bytesSent: 0,
});

/** Resolves false after `ms`, or true as soon as the client's connection closes. */
function waitUnlessClosed(ms: number, res: ServerResponse): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onClose = () => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      res.off('close', onClose);
      resolve(false);
    }, ms);
    res.once('close', onClose);
  });
}
