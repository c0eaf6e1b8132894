import { HistogramSet } from './histogram-set.js';
import type { MetricJson, MetricLabels, MetricValueJson } from './metric-json.js';

// Istio's standard metrics as an Istio gateway reports them (reporter="source"), with every label
// Istio's stats plugin emits and `unknown` where meshgate has no value, as Istio prints it. The
// request path does one or two Map lookups: each (cluster, status, flags, protocol) series is
// built once, its label set with it, and counted in plain numbers; prom-client's JSON is built
// only when the primary asks for it (see metric-json.ts). A TCP connection's bytes are added at
// each scrape while it is open (Istio adds them every 15 s) and the rest when it closes.

/** Envoy's default histogram buckets, which Istio keeps for its standard histograms. */
export const istioBuckets: readonly number[] = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

/** Who the gateway is: the `source_*` labels of every series. */
export interface SourceWorkload {
  /** source_workload, source_app, source_canonical_service. */
  readonly name: string;
  /** source_workload_namespace. */
  readonly namespace: string;
}

/** What a cluster says about its destination: the `destination_*` labels. */
export interface DestinationInfo {
  /** The destination host, fully qualified. */
  readonly host: string;
  /** The namespace of the service (a Kubernetes service name's, or its ServiceEntry's). */
  readonly namespace?: string;
  /** The subset's `version` label. */
  readonly version?: string;
}

export type DescribeCluster = (cluster: string) => DestinationInfo | undefined;

/** Istio's label names, in the order Istio's stats plugin emits them. */
export const istioHttpLabelNames = [
  'reporter',
  'source_workload',
  'source_canonical_service',
  'source_canonical_revision',
  'source_workload_namespace',
  'source_principal',
  'source_app',
  'source_version',
  'source_cluster',
  'destination_workload',
  'destination_workload_namespace',
  'destination_principal',
  'destination_app',
  'destination_version',
  'destination_service',
  'destination_canonical_service',
  'destination_canonical_revision',
  'destination_service_name',
  'destination_service_namespace',
  'destination_cluster',
  'request_protocol',
  'response_code',
  'grpc_response_status',
  'response_flags',
  'connection_security_policy',
] as const;

/** TCP series carry the same labels but no response code or gRPC status. */
export const istioTcpLabelNames = istioHttpLabelNames.filter((name) => name !== 'response_code' && name !== 'grpc_response_status');

const unknown = 'unknown';

/** Which of an HTTP series' histograms is which. */
const histogram = { duration: 0, requestBytes: 1, responseBytes: 2 } as const;

// A series keeps what its labels are made of; the 25-label object itself is built when someone
// scrapes, not held for each of the thousands of series a worker in front of many services has.
interface HttpSeries {
  readonly grpcStatus: string | undefined;
  readonly status: number;
  readonly flags: string;
  requests: number;
  /** Istio's three histograms, numbered by `histogram`. */
  readonly histograms: HistogramSet;
}

export interface TcpSeries {
  readonly labels: MetricLabels;
  opened: number;
  closed: number;
  sent: number;
  received: number;
}

/** A connection's byte counters (a net.Socket's). */
export interface ByteCounts {
  readonly bytesRead: number;
  readonly bytesWritten: number;
}

/** An open TCP connection: what of its bytes is counted already. */
export interface TcpConnection {
  readonly series: TcpSeries;
  readonly socket: ByteCounts;
  received: number;
  sent: number;
}

/** The series of one destination (one cluster, or none: no route, direct responses, redirects). */
interface DestinationSeries {
  /** What the cluster said when first counted; its labels are built when someone scrapes. */
  readonly info: DestinationInfo | undefined;
  /** Plain HTTP without response flags, by status: the common case, keyed without building a string. */
  readonly plain: Map<number, HttpSeries>;
  // Made at their first series: most destinations never see a flagged answer or a TCP connection.
  /** Everything else, by "status flags protocol". */
  other: Map<string, HttpSeries> | undefined;
  tcp: Map<string, TcpSeries> | undefined;
}

export interface IstioMetrics {
  /**
   * One HTTP request, answered or not. `cluster` undefined: no upstream (404 NR, direct
   * response, redirect). `grpcStatus`: undefined for a request that is not gRPC, '' for one
   * that got no grpc-status. `flags`: Envoy's %RESPONSE_FLAGS% ("-" for none).
   */
  request(cluster: string | undefined, grpcStatus: string | undefined, status: number, flags: string, durationMs: number, requestBytes: number, responseBytes: number): void;
  /** A TCP connection routed to `cluster` (undefined when none took it); its bytes are counted from now on. */
  tcpOpened(cluster: string | undefined, socket: ByteCounts): TcpConnection;
  /** The connection closed: its flags, and the bytes not counted yet. */
  tcpClosed(connection: TcpConnection, cluster: string | undefined, flags: string): void;
  toJson(): MetricJson[];
}

export function createIstioMetrics(source: SourceWorkload, describe: DescribeCluster): IstioMetrics {
  const sourceLabels = {
    reporter: 'source',
    source_workload: source.name,
    source_canonical_service: source.name,
    source_canonical_revision: 'latest',
    source_workload_namespace: source.namespace,
    source_principal: unknown,
    source_app: source.name,
    source_version: unknown,
    source_cluster: unknown,
  };
  const destinations = new Map<string, DestinationSeries>();
  const openConnections = new Set<TcpConnection>();
  const countBytes = (connection: TcpConnection, series: TcpSeries) => {
    const { bytesRead, bytesWritten } = connection.socket;
    series.received += bytesRead - connection.received;
    series.sent += bytesWritten - connection.sent;
    connection.received = bytesRead;
    connection.sent = bytesWritten;
  };

  const destinationOf = (cluster: string | undefined): DestinationSeries => {
    const key = cluster ?? '';
    let found = destinations.get(key);
    if (found === undefined) {
      found = { info: cluster === undefined ? undefined : describe(cluster), plain: new Map(), other: undefined, tcp: undefined };
      destinations.set(key, found);
    }
    return found;
  };

  const labelsOf = (destination: DestinationSeries): MetricLabels => ({ ...sourceLabels, ...destinationLabels(destination.info) });

  const newHttpSeries = (grpcStatus: string | undefined, status: number, flags: string): HttpSeries => ({
    grpcStatus,
    status,
    flags,
    requests: 0,
    histograms: new HistogramSet(istioBuckets, 3),
  });

  const tcpSeriesOf = (cluster: string | undefined, flags: string): TcpSeries => {
    const destination = destinationOf(cluster);
    let series = destination.tcp?.get(flags);
    if (series === undefined) {
      series = {
        labels: { ...labelsOf(destination), request_protocol: 'tcp', response_flags: flags, connection_security_policy: unknown },
        opened: 0,
        closed: 0,
        sent: 0,
        received: 0,
      };
      (destination.tcp ??= new Map()).set(flags, series);
    }
    return series;
  };

  return {
    request(cluster, grpcStatus, status, flags, durationMs, requestBytes, responseBytes) {
      const destination = destinationOf(cluster);
      const plain = grpcStatus === undefined && flags === '-';
      const key = plain ? status : `${status} ${flags} ${grpcStatus ?? 'http'}`;
      let series = plain ? destination.plain.get(status) : destination.other?.get(key as string);
      if (series === undefined) {
        series = newHttpSeries(grpcStatus, status, flags);
        if (plain) destination.plain.set(status, series);
        else (destination.other ??= new Map()).set(key as string, series);
      }
      series.requests++;
      series.histograms.observe(histogram.duration, durationMs);
      series.histograms.observe(histogram.requestBytes, requestBytes);
      series.histograms.observe(histogram.responseBytes, responseBytes);
    },
    tcpOpened(cluster, socket) {
      const series = tcpSeriesOf(cluster, '-');
      series.opened++;
      const connection = { series, socket, received: 0, sent: 0 };
      openConnections.add(connection);
      return connection;
    },
    tcpClosed(connection, cluster, flags) {
      openConnections.delete(connection);
      const series = tcpSeriesOf(cluster, flags);
      series.closed++;
      countBytes(connection, series);
    },
    toJson() {
      for (const connection of openConnections) countBytes(connection, connection.series);
      const requests: MetricValueJson[] = [];
      const duration: MetricValueJson[] = [];
      const requestBytes: MetricValueJson[] = [];
      const responseBytes: MetricValueJson[] = [];
      const tcp = { opened: [] as MetricValueJson[], closed: [] as MetricValueJson[], sent: [] as MetricValueJson[], received: [] as MetricValueJson[] };
      for (const destination of destinations.values()) {
        // Once per destination: each of its series adds its own five labels to these.
        const destinationPart = labelsOf(destination);
        for (const series of [...destination.plain.values(), ...(destination.other?.values() ?? [])]) {
          const labels = httpSeriesLabels(destinationPart, series);
          requests.push({ value: series.requests, labels });
          series.histograms.toJson(histogram.duration, 'istio_request_duration_milliseconds', labels, duration);
          series.histograms.toJson(histogram.requestBytes, 'istio_request_bytes', labels, requestBytes);
          series.histograms.toJson(histogram.responseBytes, 'istio_response_bytes', labels, responseBytes);
        }
        for (const series of destination.tcp?.values() ?? []) {
          tcp.opened.push({ value: series.opened, labels: series.labels });
          tcp.closed.push({ value: series.closed, labels: series.labels });
          tcp.sent.push({ value: series.sent, labels: series.labels });
          tcp.received.push({ value: series.received, labels: series.labels });
        }
      }
      const metric = (name: string, help: string, type: MetricJson['type'], values: MetricValueJson[]): MetricJson => ({ name, help, type, aggregator: 'sum', values });
      return [
        metric('istio_requests_total', 'Requests handled, by destination, response code and flags (Istio standard metric).', 'counter', requests),
        metric('istio_request_duration_milliseconds', 'Request duration in milliseconds (Istio standard metric).', 'histogram', duration),
        metric('istio_request_bytes', 'Request body sizes in bytes (Istio standard metric).', 'histogram', requestBytes),
        metric('istio_response_bytes', 'Response body sizes in bytes (Istio standard metric).', 'histogram', responseBytes),
        metric('istio_tcp_connections_opened_total', 'TCP connections opened (Istio standard metric).', 'counter', tcp.opened),
        metric('istio_tcp_connections_closed_total', 'TCP connections closed (Istio standard metric).', 'counter', tcp.closed),
        metric('istio_tcp_sent_bytes_total', 'Bytes sent to the client on TCP connections (Istio standard metric).', 'counter', tcp.sent),
        metric('istio_tcp_received_bytes_total', 'Bytes received from the client on TCP connections (Istio standard metric).', 'counter', tcp.received),
      ].filter((m) => m.values.length > 0);
    },
  };
}

function httpSeriesLabels(destinationLabels: MetricLabels, series: HttpSeries): MetricLabels {
  return {
    ...destinationLabels,
    request_protocol: series.grpcStatus === undefined ? 'http' : 'grpc',
    response_code: String(series.status),
    grpc_response_status: series.grpcStatus ?? '',
    response_flags: series.flags,
    // What the reporting side knows: a source (client-side) reporter never knows the server's policy.
    connection_security_policy: unknown,
  };
}

/** The destination labels; all `unknown` when the request reached no cluster, as Istio labels a 404 NR. */
function destinationLabels(info: DestinationInfo | undefined): Record<string, string> {
  const { name, namespace } = info === undefined ? { name: unknown, namespace: unknown } : serviceName(info);
  return {
    destination_workload: unknown,
    destination_workload_namespace: unknown,
    destination_principal: unknown,
    destination_app: unknown,
    destination_version: info?.version ?? unknown,
    destination_service: info?.host ?? unknown,
    destination_canonical_service: unknown,
    destination_canonical_revision: info === undefined ? unknown : 'latest',
    destination_service_name: name,
    destination_service_namespace: namespace,
    destination_cluster: unknown,
  };
}

/** `reviews.default.svc.cluster.local` is the service `reviews` of `default`; any other host is its own name. */
function serviceName(info: DestinationInfo): { name: string; namespace: string } {
  const parts = info.host.split('.');
  if (parts.length >= 3 && parts[2] === 'svc') return { name: parts[0]!, namespace: parts[1]! };
  return { name: info.host, namespace: info.namespace ?? unknown };
}
