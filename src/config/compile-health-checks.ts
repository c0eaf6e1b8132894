import type { HealthCheckPolicySpec } from './kinds/health-check-policy.js';
import type { Resource } from './validate.js';
import type { IssueSink } from './compile-issues.js';
import { resolveShortName } from './fqdn.js';
import type { ClusterConfig } from '../upstream/cluster.js';

// HealthCheckPolicy -> the clusters it selects: those of its host, narrowed to its port and
// subset when it names them. A cluster takes the first policy that selects it (file order); a
// policy that selects no cluster a route uses checks nothing, and says so.

export function attachHealthChecks(
  policies: readonly Resource<HealthCheckPolicySpec>[],
  clusters: Map<string, ClusterConfig>,
  issues: IssueSink,
): void {
  const taken = new Map<string, string>();
  for (const policy of policies) {
    const { spec, metadata } = policy;
    const name = `${metadata.namespace}/${metadata.name}`;
    const host = resolveShortName(spec.host, metadata.namespace);
    let selected = 0;
    for (const [clusterName, config] of clusters) {
      if (config.host !== host || (spec.port !== undefined && config.port !== spec.port.number)) continue;
      if (spec.subset !== undefined && config.subset !== spec.subset) continue;
      selected++;
      const owner = taken.get(clusterName);
      if (owner !== undefined) {
        issues.warning(policy, ['spec', 'host'], 'MG_ERR_CONFIG_FIELD_VALUE', `cluster ${clusterName} is already checked by HealthCheckPolicy ${owner}; this policy does not apply to it`);
        continue;
      }
      taken.set(clusterName, name);
      clusters.set(
        clusterName,
        Object.freeze({
          ...config,
          healthCheck: Object.freeze({
            policy: name,
            path: spec.path,
            host,
            intervalMs: spec.interval,
            timeoutMs: spec.timeout,
            healthyThreshold: spec.healthyThreshold,
            unhealthyThreshold: spec.unhealthyThreshold,
            expectedStatuses: spec.expectedStatuses,
          }),
        }),
      );
    }
    if (selected === 0) {
      issues.warning(policy, ['spec', 'host'], 'MG_ERR_CONFIG_FIELD_VALUE', `no route sends traffic to ${host}${spec.port === undefined ? '' : ` port ${spec.port.number}`}${spec.subset === undefined ? '' : ` subset ${spec.subset}`}; this policy checks nothing`);
    }
  }
}
