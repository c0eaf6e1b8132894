import test from 'ava';
import { createGatewayMetrics } from '../../src/observability/gateway-metrics.js';
import { createIstioMetrics } from '../../src/observability/istio-metrics.js';
import type { MetricJson } from '../../src/observability/metric-json.js';
import { parsePrometheusText, total } from '../helpers/prometheus-text.js';

// The primary's scrape: each worker's numbers (from real per-worker series) added up into one
// exposition, counters and histogram buckets summed, gauges by their own rule, and the
// primary's metrics beside them.

const source = { name: 'meshgate', namespace: 'default' };
const describe = () => ({ host: 'app.default.svc.cluster.local' });
const cluster = 'outbound|80||app.default.svc.cluster.local';

function endpoints(healthy: number, ejected: number): MetricJson {
  return {
    name: 'meshgate_cluster_endpoints',
    help: 'endpoints by health',
    type: 'gauge',
    aggregator: 'max',
    values: [
      { value: healthy, labels: { cluster, health: 'healthy' } },
      { value: ejected, labels: { cluster, health: 'ejected' } },
    ],
  };
}

test('two workers are summed into one set of numbers; max gauges take the largest', async (t) => {
  const one = createIstioMetrics(source, describe);
  const two = createIstioMetrics(source, describe);
  for (let i = 0; i < 3; i++) one.request(cluster, undefined, 200, '-', 2, 10, 100);
  for (let i = 0; i < 4; i++) two.request(cluster, undefined, 200, '-', 700, 10, 100);
  two.request(undefined, undefined, 404, 'NR', 0.2, 0, 0);
  const metrics = createGatewayMetrics({
    workers: () => ({ workers: 2, restarts: 1, pids: [1, 2] }),
    collect: async () => [
      [...one.toJson(), endpoints(3, 0)],
      [...two.toJson(), endpoints(2, 1)],
    ],
  });
  metrics.applied(4, {});
  metrics.reload('ok');
  const samples = parsePrometheusText(await metrics.scrape());

  t.is(total(samples, 'istio_requests_total', { destination_service: 'app.default.svc.cluster.local', response_code: '200' }), 7);
  t.is(total(samples, 'istio_requests_total', { destination_service: 'unknown', response_code: '404' }), 1);
  const app = { destination_service: 'app.default.svc.cluster.local' };
  t.is(total(samples, 'istio_request_duration_milliseconds_bucket', { ...app, le: '5' }), 3);
  t.is(total(samples, 'istio_request_duration_milliseconds_bucket', { ...app, le: '1000' }), 7);
  t.is(total(samples, 'istio_request_duration_milliseconds_sum', app), 3 * 2 + 4 * 700);
  t.is(total(samples, 'istio_response_bytes_sum', app), 700);
  t.is(total(samples, 'meshgate_cluster_endpoints', { health: 'healthy' }), 3);
  t.is(total(samples, 'meshgate_cluster_endpoints', { health: 'ejected' }), 1);
  t.is(total(samples, 'meshgate_workers'), 2);
  t.is(total(samples, 'meshgate_worker_restarts_total'), 1);
  t.is(total(samples, 'meshgate_config_generation'), 4);
  t.is(total(samples, 'meshgate_config_reloads_total', { result: 'ok' }), 1);
  t.is(total(samples, 'meshgate_config_reloads_total', { result: 'refused' }), 0);

  // A second scrape does not count the restarts again.
  t.is(total(parsePrometheusText(await metrics.scrape()), 'meshgate_worker_restarts_total'), 1);
});
