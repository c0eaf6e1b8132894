import type { ClusterManager } from '../upstream/cluster-manager.js';
import type { PoolRegistry } from '../upstream/pool-registry.js';
import type { MetricJson, MetricValueJson } from './metric-json.js';

// meshgate's own metrics that live in a worker: endpoints by health, outlier ejections,
// upstream connection pools and client connections per listener. Read from the runtime objects when the primary asks, so they cost
// the request path nothing. How the primary combines workers is each metric's `aggregator`.

/** `listeners`: each open listener's client connections now. */
export function workerMetricsJson(clusters: ClusterManager, pools: PoolRegistry, listeners: readonly { listener: string; connections: number }[]): MetricJson[] {
  const endpoints: MetricValueJson[] = [];
  const ejections: MetricValueJson[] = [];
  for (const { config, cluster } of clusters.all()) {
    const status = cluster.status();
    const hosts = status.host_statuses;
    const ejected = hosts.filter((host) => host.health_status.failed_outlier_check).length;
    const unhealthy = hosts.filter((host) => host.health_status.failed_active_health_check).length;
    endpoints.push(
      { value: Math.max(hosts.length - ejected - unhealthy, 0), labels: { cluster: config.name, health: 'healthy' } },
      { value: ejected, labels: { cluster: config.name, health: 'ejected' } },
      { value: unhealthy, labels: { cluster: config.name, health: 'unhealthy' } },
    );
    ejections.push({ value: status.outlier_ejections_total, labels: { cluster: config.name } });
  }
  const poolValues: Record<'connected' | 'free' | 'pending' | 'running', MetricValueJson[]> = { connected: [], free: [], pending: [], running: [] };
  for (const { origin, stats } of pools.stats()) {
    for (const key of ['connected', 'free', 'pending', 'running'] as const) poolValues[key].push({ value: stats[key], labels: { origin } });
  }
  return [
    {
      name: 'meshgate_cluster_endpoints',
      help: 'Endpoints of each cluster by health: healthy, ejected (outlier detection) or unhealthy (health checks). Each worker checks on its own; the largest count any worker sees.',
      type: 'gauge',
      aggregator: 'max',
      values: endpoints,
    },
    {
      name: 'meshgate_outlier_ejections_total',
      help: 'Outlier ejections per cluster, summed over workers (each worker ejects on its own).',
      type: 'counter',
      aggregator: 'sum',
      values: ejections,
    },
    { name: 'meshgate_upstream_connections', help: 'Upstream HTTP/1.1 connections open per endpoint (undici Pool: connected).', type: 'gauge', aggregator: 'sum', values: poolValues.connected },
    { name: 'meshgate_upstream_connections_idle', help: 'Upstream connections open and idle per endpoint (undici Pool: free).', type: 'gauge', aggregator: 'sum', values: poolValues.free },
    { name: 'meshgate_upstream_requests_pending', help: 'Requests waiting for an upstream connection per endpoint (undici Pool: pending).', type: 'gauge', aggregator: 'sum', values: poolValues.pending },
    { name: 'meshgate_upstream_requests_active', help: 'Requests in flight on upstream connections per endpoint (undici Pool: running).', type: 'gauge', aggregator: 'sum', values: poolValues.running },
    {
      name: 'meshgate_downstream_connections_active',
      help: 'Client connections open now, by listener (Envoy: downstream_cx_active).',
      type: 'gauge',
      aggregator: 'sum',
      values: listeners.map(({ listener, connections }) => ({ value: connections, labels: { listener } })),
    },
  ];
}
