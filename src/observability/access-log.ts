import type { ResponseFlag } from '../errors.js';

// Istio's default access log, TEXT encoding: one line per request in exactly the layout of
// istiod's EnvoyTextLogFormat (pilot/pkg/model/telemetry_logging.go), so that tools reading
// Istio gateway logs read ours:
//
// [%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE%
// %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS%
// "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION%
// %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%"
// "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW%
// %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS%
// %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n
//
// A value that is missing prints as `-`, as Envoy prints it.

export interface AccessLogEntry {
  /** When the first byte of the request arrived (epoch milliseconds). */
  readonly startTime: number;
  readonly method: string;
  /** The path as the client sent it, query included (before any rewrite). */
  readonly path: string;
  /** `HTTP/1.1`, `HTTP/2`... */
  readonly protocol: string;
  /** 0 when no response was sent. */
  readonly responseCode: number;
  /** Printed in Envoy's order, comma-separated ("DI,FI"), whatever order they are given in. */
  readonly responseFlags?: readonly ResponseFlag[];
  readonly responseCodeDetails?: string;
  readonly connectionTerminationDetails?: string;
  readonly upstreamTransportFailureReason?: string;
  readonly bytesReceived: number;
  readonly bytesSent: number;
  readonly durationMs: number;
  readonly upstreamServiceTimeMs?: number;
  readonly forwardedFor?: string;
  readonly userAgent?: string;
  readonly requestId?: string;
  readonly authority?: string;
  /** `ip:port` of the endpoint. */
  readonly upstreamHost?: string;
  /** Istio's cluster name, e.g. `outbound|80|v1|reviews.default.svc.cluster.local`. */
  readonly upstreamCluster?: string;
  readonly upstreamLocalAddress?: string;
  readonly downstreamLocalAddress?: string;
  readonly downstreamRemoteAddress?: string;
  /** SNI of a TLS connection. */
  readonly requestedServerName?: string;
  readonly routeName?: string;
}

/** One access log line, newline included. */
export function formatAccessLogText(entry: AccessLogEntry): string {
  return (
    `[${new Date(entry.startTime).toISOString()}] ` +
    `"${text(entry.method)} ${text(entry.path)} ${text(entry.protocol)}" ` +
    `${entry.responseCode} ${flagsText(entry.responseFlags)} ${text(entry.responseCodeDetails)} ` +
    `${text(entry.connectionTerminationDetails)} "${text(entry.upstreamTransportFailureReason)}" ` +
    `${entry.bytesReceived} ${entry.bytesSent} ${Math.round(entry.durationMs)} ` +
    `${entry.upstreamServiceTimeMs === undefined ? '-' : Math.round(entry.upstreamServiceTimeMs)} ` +
    `"${text(entry.forwardedFor)}" "${text(entry.userAgent)}" "${text(entry.requestId)}" ` +
    `"${text(entry.authority)}" "${text(entry.upstreamHost)}" ${text(entry.upstreamCluster)} ` +
    `${text(entry.upstreamLocalAddress)} ${text(entry.downstreamLocalAddress)} ` +
    `${text(entry.downstreamRemoteAddress)} ${text(entry.requestedServerName)} ${text(entry.routeName)}\n`
  );
}

export interface AccessLog {
  log(entry: AccessLogEntry): void;
  /** Writes what is buffered now (before a process exits). */
  flush(): void;
}

/** Lines are written together once this much is buffered, or at the end of the event-loop turn. */
const flushBytes = 64 * 1024;

/**
 * An access log writing text lines (to stdout unless told otherwise). Node writes to a pipe or a
 * file synchronously, one syscall per write, so the lines of one event-loop turn go out in one
 * write (Envoy buffers its access log too). A quiet gateway still writes each line at once.
 */
export function createAccessLog(write: (text: string) => void = (text) => process.stdout.write(text)): AccessLog {
  let pending = '';
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending === '') return;
    const text = pending;
    pending = '';
    write(text);
  };
  return Object.freeze({
    log(entry: AccessLogEntry) {
      pending += formatAccessLogText(entry);
      if (pending.length >= flushBytes) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  });
}

/** A value as Envoy prints it: `-` when missing or empty. (Node's parser lets no CR/LF into headers.) */
function text(value: string | undefined): string {
  return value === undefined || value === '' ? '-' : value;
}

// Envoy's %RESPONSE_FLAGS% order (ResponseFlagUtils), for the flags meshgate sets.
const envoyFlagOrder: readonly ResponseFlag[] = ['UH', 'UT', 'UF', 'UC', 'UO', 'NR', 'DI', 'FI', 'RL', 'RLSE', 'DC', 'URX', 'UPE'];

function flagsText(flags: readonly ResponseFlag[] | undefined): string {
  if (flags === undefined || flags.length === 0) return '-';
  if (flags.length === 1) return flags[0] as string;
  const rank = (flag: ResponseFlag) => {
    const index = envoyFlagOrder.indexOf(flag);
    return index === -1 ? envoyFlagOrder.length : index;
  };
  return [...flags].sort((a, b) => rank(a) - rank(b)).join(',');
}
