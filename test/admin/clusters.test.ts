import test from 'ava';
import { mergeClusterStatus } from '../../src/admin/clusters.js';
import type { ClusterStatus } from '../../src/upstream/cluster.js';

const limits = { max_connections: 10, max_pending_requests: null, max_requests: null, max_retries: 3 };

function status(name: string, active: number, hosts: [string, number, boolean, boolean][]): ClusterStatus {
  return {
    name,
    circuit_breakers: { ...limits, retries_in_flight: 1, rq_active: active, rq_overflow: 2 },
    outlier_ejections_total: active,
    host_statuses: hosts.map(([address, rq, ejected, unhealthy]) => ({ address, weight: 1, rq_active: rq, health_status: { failed_outlier_check: ejected, failed_active_health_check: unhealthy } })),
  };
}

test('workers\' views add up: counts summed, an endpoint failing where any worker has it out, clusters sorted', (t) => {
  const merged = mergeClusterStatus([
    [status('b', 2, [['10.0.0.1:80', 1, true, false], ['10.0.0.2:80', 1, false, false]])],
    [status('b', 3, [['10.0.0.1:80', 0, false, false], ['10.0.0.2:80', 3, false, true]]), status('a', 0, [])],
  ]);
  t.is(merged.workers, 2);
  t.deepEqual(merged.cluster_statuses.map((c) => c.name), ['a', 'b']);
  const b = merged.cluster_statuses[1]!;
  t.deepEqual(b.circuit_breakers, { ...limits, retries_in_flight: 2, rq_active: 5, rq_overflow: 4 });
  t.is(b.outlier_ejections_total, 5, 'ejections are per worker: summed');
  t.deepEqual(
    b.host_statuses.map((h) => [h.address, h.rq_active, h.health_status.failed_outlier_check, h.health_status.failed_active_health_check]),
    [['10.0.0.1:80', 1, true, false], ['10.0.0.2:80', 4, false, true]],
  );
});

test('no workers answering: an empty view that says so', (t) => {
  t.deepEqual(mergeClusterStatus([]), { workers: 0, cluster_statuses: [] });
});
