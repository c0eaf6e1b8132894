import type { ResponseFlag } from '../errors.js';
import { accessLogStdout } from '../config/access-log-file.js';
import type { MeshConfigSpec } from '../config/kinds/mesh-config.js';
import { flagsText } from './response-flags-label.js';

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
//
// JSON encoding: one object per line with the keys of istiod's EnvoyJSONLogFormatIstio; Envoy
// writes numbers as numbers, a missing value as null, and no flags as "-".

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

/** One access log line in Istio's JSON encoding, newline included. */
export function formatAccessLogJson(entry: AccessLogEntry): string {
  return `${JSON.stringify({
    start_time: new Date(entry.startTime).toISOString(),
    route_name: json(entry.routeName),
    method: json(entry.method),
    path: json(entry.path),
    protocol: json(entry.protocol),
    response_code: entry.responseCode,
    response_flags: flagsText(entry.responseFlags),
    response_code_details: json(entry.responseCodeDetails),
    connection_termination_details: json(entry.connectionTerminationDetails),
    upstream_transport_failure_reason: json(entry.upstreamTransportFailureReason),
    bytes_received: entry.bytesReceived,
    bytes_sent: entry.bytesSent,
    duration: Math.round(entry.durationMs),
    // A response header in Envoy's format, so a string.
    upstream_service_time: entry.upstreamServiceTimeMs === undefined ? null : String(Math.round(entry.upstreamServiceTimeMs)),
    x_forwarded_for: json(entry.forwardedFor),
    user_agent: json(entry.userAgent),
    request_id: json(entry.requestId),
    authority: json(entry.authority),
    upstream_host: json(entry.upstreamHost),
    upstream_cluster: json(entry.upstreamCluster),
    upstream_local_address: json(entry.upstreamLocalAddress),
    downstream_local_address: json(entry.downstreamLocalAddress),
    downstream_remote_address: json(entry.downstreamRemoteAddress),
    requested_server_name: json(entry.requestedServerName),
  })}\n`;
}

/** How the access log writes, from the MeshConfig; undefined is off. */
export interface AccessLogSettings {
  readonly encoding: 'TEXT' | 'JSON';
  /** Only requests with status >= 400 or any response flag (meshgate's accessLogErrorsOnly). */
  readonly errorsOnly: boolean;
}

export function accessLogSettingsOf(mesh: MeshConfigSpec): AccessLogSettings | undefined {
  return mesh.accessLogFile === accessLogStdout ? { encoding: mesh.accessLogEncoding, errorsOnly: mesh.accessLogErrorsOnly } : undefined;
}

export interface AccessLog {
  /** False when the log is off: callers skip building entries at all. */
  readonly enabled: boolean;
  /** Applies a reloaded MeshConfig's settings (undefined: off). */
  configure(settings: AccessLogSettings | undefined): void;
  log(entry: AccessLogEntry): void;
  /** Writes what is buffered now (before a process exits). */
  flush(): void;
}

/** Lines are written together once this much is buffered, or at the end of the event-loop turn. */
const flushBytes = 64 * 1024;

/**
 * An access log writing lines (to stdout unless told otherwise), off until configured. Node writes
 * to a pipe or a file synchronously, one syscall per write, so the lines of one event-loop turn go
 * out in one write (Envoy buffers its access log too). A quiet gateway still writes each line at once.
 */
export function createAccessLog(write: (text: string) => void = (text) => process.stdout.write(text)): AccessLog {
  let pending = '';
  let scheduled = false;
  let format = formatAccessLogText;
  let errorsOnly = false;
  const flush = () => {
    scheduled = false;
    if (pending === '') return;
    const text = pending;
    pending = '';
    write(text);
  };
  const log = {
    enabled: false,
    configure(settings: AccessLogSettings | undefined) {
      log.enabled = settings !== undefined;
      format = settings?.encoding === 'JSON' ? formatAccessLogJson : formatAccessLogText;
      errorsOnly = settings?.errorsOnly === true;
    },
    log(entry: AccessLogEntry) {
      if (!log.enabled) return;
      if (errorsOnly && entry.responseCode < 400 && (entry.responseFlags === undefined || entry.responseFlags.length === 0)) return;
      pending += format(entry);
      if (pending.length >= flushBytes) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
  return log;
}

function json(value: string | undefined): string | null {
  return value === undefined || value === '' ? null : value;
}

/** A value as Envoy prints it: `-` when missing or empty. (Node's parser lets no CR/LF into headers.) */
function text(value: string | undefined): string {
  return value === undefined || value === '' ? '-' : value;
}

// Envoy's %RESPONSE_FLAGS% order (ResponseFlagUtils), for the flags meshgate sets.
