import test from 'ava';
import { createIstioMetrics, istioBuckets, istioHttpLabelNames } from '../../src/observability/istio-metrics.js';
import { responseFlagsLabel } from '../../src/observability/response-flags-label.js';
import type { MetricJson } from '../../src/observability/metric-json.js';

// The per-worker series behind Istio's metrics: one series per (destination, code, flags,
// protocol), Prometheus's bucket rule (a value equal to a bound counts in it), and the flags
// label in Envoy's order.

const source = { name: 'edge', namespace: 'ingress' };
const describe = (cluster: string) =>
  cluster === 'outbound|9080|v2|reviews.default.svc.cluster.local' ? { host: 'reviews.default.svc.cluster.local', version: 'v2' } : cluster === 'outbound|80||api.example.com' ? { host: 'api.example.com', namespace: 'edge' } : undefined;

function metric(all: MetricJson[], name: string): MetricJson {
  const found = all.find((m) => m.name === name);
  if (found === undefined) throw new Error(`${name} missing`);
  return found;
}

test('requests with the same labels share one series; other codes, flags or protocols get their own', (t) => {
  const metrics = createIstioMetrics(source, describe);
  const reviews = 'outbound|9080|v2|reviews.default.svc.cluster.local';
  metrics.request(reviews, undefined, 200, '-', 3, 0, 10);
  metrics.request(reviews, undefined, 200, '-', 4, 0, 10);
  metrics.request(reviews, undefined, 503, 'UF,URX', 1, 0, 0);
  metrics.request(reviews, '0', 200, '-', 2, 5, 5);
  metrics.request(reviews, '5', 200, '-', 2, 5, 5);
  metrics.request(undefined, undefined, 404, 'NR', 0.1, 0, 0);
  const requests = metric(metrics.toJson(), 'istio_requests_total').values;
  t.deepEqual(
    requests.map((v) => [v.labels.destination_service, v.labels.response_code, v.labels.response_flags, v.labels.request_protocol, v.labels.grpc_response_status, v.value]),
    [
      ['reviews.default.svc.cluster.local', '200', '-', 'http', '', 2],
      ['reviews.default.svc.cluster.local', '503', 'UF,URX', 'http', '', 1],
      ['reviews.default.svc.cluster.local', '200', '-', 'grpc', '0', 1],
      ['reviews.default.svc.cluster.local', '200', '-', 'grpc', '5', 1],
      ['unknown', '404', 'NR', 'http', '', 1],
    ],
  );
  t.like(requests[0]!.labels, { destination_service_name: 'reviews', destination_service_namespace: 'default', destination_version: 'v2', source_workload: 'edge', source_workload_namespace: 'ingress' });
  t.like(requests[4]!.labels, { destination_service_name: 'unknown', destination_service_namespace: 'unknown', destination_version: 'unknown' });
});

test('a host that is not a Kubernetes service name is its own service name, in its ServiceEntry namespace', (t) => {
  const metrics = createIstioMetrics(source, describe);
  metrics.request('outbound|80||api.example.com', undefined, 200, '-', 1, 0, 0);
  t.like(metric(metrics.toJson(), 'istio_requests_total').values[0]!.labels, {
    destination_service: 'api.example.com',
    destination_service_name: 'api.example.com',
    destination_service_namespace: 'edge',
    destination_version: 'unknown',
  });
});

test('histogram buckets are cumulative, a value on a bound counts in it, and +Inf counts everything', (t) => {
  const metrics = createIstioMetrics(source, describe);
  for (const ms of [0.5, 0.7, 5, 4000, 5_000_000]) metrics.request(undefined, undefined, 200, '-', ms, 0, 0);
  const values = metric(metrics.toJson(), 'istio_request_duration_milliseconds').values;
  const bucket = (le: string | number) => values.find((v) => v.metricName === 'istio_request_duration_milliseconds_bucket' && v.labels.le === le)?.value;
  t.is(bucket(0.5), 1);
  t.is(bucket(1), 2);
  t.is(bucket(5), 3);
  t.is(bucket(5000), 4);
  t.is(bucket(3600000), 4);
  t.is(bucket('+Inf'), 5);
  t.is(values.filter((v) => v.metricName === 'istio_request_duration_milliseconds_bucket').length, istioBuckets.length + 1);
  t.is(values.find((v) => v.metricName === 'istio_request_duration_milliseconds_count')?.value, 5);
  t.is(values.find((v) => v.metricName === 'istio_request_duration_milliseconds_sum')?.value, 0.5 + 0.7 + 5 + 4000 + 5_000_000);
});

test('TCP: opened when routed; bytes counted at each scrape while open and the rest at close, never twice; flags at close', (t) => {
  const metrics = createIstioMetrics(source, describe);
  t.deepEqual(metrics.toJson(), []);
  const api = 'outbound|80||api.example.com';
  const socket = { bytesRead: 10, bytesWritten: 20 };
  const connection = metrics.tcpOpened(api, socket);
  const open = metrics.toJson();
  t.deepEqual(open.map((m) => m.name), ['istio_tcp_connections_opened_total', 'istio_tcp_connections_closed_total', 'istio_tcp_sent_bytes_total', 'istio_tcp_received_bytes_total']);
  t.deepEqual(metric(open, 'istio_tcp_received_bytes_total').values.map((v) => v.value), [10]);
  t.deepEqual(metric(open, 'istio_tcp_connections_closed_total').values.map((v) => v.value), [0]);

  socket.bytesRead = 15;
  socket.bytesWritten = 30;
  metrics.tcpClosed(connection, api, '-');
  const refused = { bytesRead: 3, bytesWritten: 0 };
  metrics.tcpClosed(metrics.tcpOpened(undefined, refused), undefined, 'NR');
  const all = metrics.toJson();
  const byFlags = (name: string) => metric(all, name).values.map((v) => [v.labels.destination_service, v.labels.response_flags, v.value]);
  t.deepEqual(byFlags('istio_tcp_received_bytes_total'), [['api.example.com', '-', 15], ['unknown', '-', 0], ['unknown', 'NR', 3]]);
  t.deepEqual(byFlags('istio_tcp_sent_bytes_total'), [['api.example.com', '-', 30], ['unknown', '-', 0], ['unknown', 'NR', 0]]);
  t.deepEqual(byFlags('istio_tcp_connections_opened_total'), [['api.example.com', '-', 1], ['unknown', '-', 1], ['unknown', 'NR', 0]]);
  t.deepEqual(byFlags('istio_tcp_connections_closed_total'), [['api.example.com', '-', 1], ['unknown', '-', 0], ['unknown', 'NR', 1]]);
  t.false('response_code' in metric(all, 'istio_tcp_connections_closed_total').values[0]!.labels);
});

test('response flags print as Envoy prints them: "-" for none, comma-separated in Envoy\'s order', (t) => {
  t.is(responseFlagsLabel(undefined), '-');
  t.is(responseFlagsLabel('NR'), 'NR');
  t.is(responseFlagsLabel('UF', 'URX'), 'UF,URX');
  t.is(responseFlagsLabel('FI', undefined, true), 'DI,FI');
  t.is(responseFlagsLabel(undefined, undefined, true), 'DI');
});

test('labels are built at each scrape from what the cluster said when first counted, in Istio\'s order', (t) => {
  let described = 0;
  let host = 'first.example.com';
  const metrics = createIstioMetrics(source, () => {
    described++;
    return { host, namespace: 'edge' };
  });
  metrics.request('outbound|80||changing', undefined, 200, '-', 1, 0, 0);
  metrics.request('outbound|80||changing', undefined, 503, 'UF', 1, 0, 0);
  // A reload that redescribes the cluster does not relabel a series counted before it.
  host = 'second.example.com';
  metrics.request('outbound|80||changing', '0', 200, '-', 1, 0, 0);
  t.is(described, 1);
  for (let scrape = 0; scrape < 2; scrape++) {
    const all = metrics.toJson();
    const requests = metric(all, 'istio_requests_total').values;
    t.deepEqual(
      requests.map((v) => [v.labels.destination_service, v.labels.response_code, v.labels.response_flags, v.labels.request_protocol]),
      [
        ['first.example.com', '200', '-', 'http'],
        ['first.example.com', '503', 'UF', 'http'],
        ['first.example.com', '200', '-', 'grpc'],
      ],
    );
    for (const value of requests) t.deepEqual(Object.keys(value.labels), [...istioHttpLabelNames]);
    const sums = metric(all, 'istio_request_duration_milliseconds').values.filter((v) => v.metricName === 'istio_request_duration_milliseconds_sum');
    t.deepEqual(
      sums.map((v) => v.labels),
      requests.map((v) => v.labels),
    );
  }
});
