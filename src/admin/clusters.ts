import type { ClusterStatus, HostStatus } from '../upstream/cluster.js';

// /clusters: each worker keeps its own endpoint health, ejections and request counts (nothing
// is shared between processes), so the primary asks every worker and merges their answers into
// one view in the shape of Envoy's /clusters?format=json. Counts add up; an endpoint is shown
// failing a check when any worker has it out, since that worker sends it nothing.

export interface ClustersView {
  readonly workers: number;
  readonly cluster_statuses: readonly ClusterStatus[];
}

export function mergeClusterStatus(perWorker: readonly (readonly ClusterStatus[])[]): ClustersView {
  const clusters = new Map<string, ClusterStatus>();
  for (const statuses of perWorker) {
    for (const status of statuses) {
      const seen = clusters.get(status.name);
      clusters.set(status.name, seen === undefined ? status : mergeCluster(seen, status));
    }
  }
  return { workers: perWorker.length, cluster_statuses: [...clusters.values()].sort((a, b) => a.name.localeCompare(b.name)) };
}

function mergeCluster(a: ClusterStatus, b: ClusterStatus): ClusterStatus {
  const hosts = new Map(a.host_statuses.map((host) => [host.address, host]));
  for (const host of b.host_statuses) {
    const seen = hosts.get(host.address);
    hosts.set(host.address, seen === undefined ? host : mergeHost(seen, host));
  }
  return {
    name: a.name,
    circuit_breakers: {
      ...a.circuit_breakers,
      rq_active: a.circuit_breakers.rq_active + b.circuit_breakers.rq_active,
      rq_overflow: a.circuit_breakers.rq_overflow + b.circuit_breakers.rq_overflow,
      retries_in_flight: a.circuit_breakers.retries_in_flight + b.circuit_breakers.retries_in_flight,
    },
    outlier_ejections_total: a.outlier_ejections_total + b.outlier_ejections_total,
    host_statuses: [...hosts.values()],
  };
}

function mergeHost(a: HostStatus, b: HostStatus): HostStatus {
  return {
    ...a,
    rq_active: a.rq_active + b.rq_active,
    health_status: {
      failed_outlier_check: a.health_status.failed_outlier_check || b.health_status.failed_outlier_check,
      failed_active_health_check: a.health_status.failed_active_health_check || b.health_status.failed_active_health_check,
    },
  };
}
