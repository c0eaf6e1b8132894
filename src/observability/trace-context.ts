import type { IncomingHttpHeaders } from 'node:http';

// The trace context a client sends, in the forms Envoy reads: W3C traceparent (with tracestate)
// and Zipkin's B3, as separate x-b3-* headers or the single `b3` header. The gateway's span
// continues it (same trace id, the client's span as parent); what goes upstream names the
// gateway's span as the parent, in the form the client used (plus traceparent, OpenTelemetry's).

export type TraceFormat = 'w3c' | 'b3' | 'b3-single';

export interface TraceContext {
  /** 32 lower-case hex digits (a 64-bit B3 id is left-padded with zeros, as OpenTelemetry reads it). */
  readonly traceId: string;
  /** The client's span: 16 lower-case hex digits. */
  readonly spanId: string;
  /** undefined: the client left the decision to the gateway (B3 without a sampled flag). */
  readonly sampled: boolean | undefined;
  readonly format: TraceFormat;
  /** A B3 trace id of 16 digits is sent upstream with 16. */
  readonly shortTraceId: boolean;
}

const traceparentPattern = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})/;
const traceIdPattern = /^(?:[0-9a-f]{16}|[0-9a-f]{32})$/;
const spanIdPattern = /^[0-9a-f]{16}$/;
const zeroTrace = /^0+$/;

/** The client's trace context, or undefined when it sent none (or one that does not parse). */
export function readTraceContext(headers: IncomingHttpHeaders): TraceContext | undefined {
  const traceparent = headers.traceparent;
  if (typeof traceparent === 'string') return fromTraceparent(traceparent);
  const b3TraceId = headers['x-b3-traceid'];
  if (typeof b3TraceId === 'string') return fromB3(b3TraceId, headers['x-b3-spanid'], sampledOf(headers['x-b3-sampled'], headers['x-b3-flags']), 'b3');
  const single = headers.b3;
  if (typeof single === 'string') {
    const [traceId, spanId, sampling] = single.split('-');
    return traceId === undefined ? undefined : fromB3(traceId, spanId, sampling === 'd' ? true : sampledOf(sampling, undefined), 'b3-single');
  }
  return undefined;
}

function fromTraceparent(value: string): TraceContext | undefined {
  const match = traceparentPattern.exec(value.trim().toLowerCase());
  if (match === null || match[1] === 'ff' || zeroTrace.test(match[2]!) || zeroTrace.test(match[3]!)) return undefined;
  return { traceId: match[2]!, spanId: match[3]!, sampled: (Number.parseInt(match[4]!, 16) & 1) === 1, format: 'w3c', shortTraceId: false };
}

function fromB3(traceId: string, spanId: unknown, sampled: boolean | undefined, format: TraceFormat): TraceContext | undefined {
  const trace = traceId.toLowerCase();
  const span = typeof spanId === 'string' ? spanId.toLowerCase() : '';
  if (!traceIdPattern.test(trace) || zeroTrace.test(trace) || !spanIdPattern.test(span)) return undefined;
  return { traceId: trace.padStart(32, '0'), spanId: span, sampled, format, shortTraceId: trace.length === 16 };
}

/** B3's sampled flag: "1"/"true" yes, "0"/"false" no; x-b3-flags 1 is debug (sampled). */
function sampledOf(value: unknown, flags: unknown): boolean | undefined {
  if (flags === '1' || value === '1' || value === 'true') return true;
  if (value === '0' || value === 'false') return false;
  return undefined;
}

/**
 * Sets the headers the upstream reads: the gateway's span (`spanId`) is now the parent. The
 * client's form is rewritten; traceparent is always set (tracestate passes through untouched).
 * A trace the gateway started (no `client`) goes out as traceparent and x-b3-* both, so an
 * upstream reading either joins it.
 */
export function writeTraceHeaders(headers: IncomingHttpHeaders, traceId: string, spanId: string, sampled: boolean, client: TraceContext | undefined): void {
  headers.traceparent = `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
  const format = client?.format;
  if (format === 'w3c') return;
  const b3TraceId = client?.shortTraceId === true ? traceId.slice(16) : traceId;
  if (format === 'b3-single') {
    headers.b3 = `${b3TraceId}-${spanId}-${sampled ? '1' : '0'}-${client!.spanId}`;
    return;
  }
  headers['x-b3-traceid'] = b3TraceId;
  headers['x-b3-spanid'] = spanId;
  headers['x-b3-sampled'] = sampled ? '1' : '0';
  if (client === undefined) delete headers['x-b3-parentspanid'];
  else headers['x-b3-parentspanid'] = client.spanId;
  delete headers['x-b3-flags'];
}
