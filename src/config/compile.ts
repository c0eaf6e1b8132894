import type { ConfigIssue } from './issue.js';
import type { Snapshot } from './snapshot.js';
import type { ValidatedConfig } from './validate.js';
import { compileListeners } from './compile-listeners.js';
import { createIssueSink } from './compile-issues.js';
import { createServiceRegistry } from './service-registry.js';
import { warnIgnoredPolicies } from './compile-policy-warnings.js';
import { attachHealthChecks } from './compile-health-checks.js';
import type { ClusterConfig } from '../upstream/cluster.js';

// compile: a pure function from validated resources to one frozen Snapshot. Every matcher,
// weight table and cluster is built here once; the data plane only reads.

export function compileSnapshot(config: ValidatedConfig, generation: number): { snapshot: Snapshot; issues: ConfigIssue[] } {
  const issues = createIssueSink();
  const clusters = new Map<string, ClusterConfig>();
  const listeners = compileListeners(config, { registry: createServiceRegistry(config), clusters, issues });
  for (const rule of config.destinationRules) warnIgnoredPolicies(rule, issues);
  attachHealthChecks(config.healthCheckPolicies, clusters, issues);
  const snapshot: Snapshot = Object.freeze({
    generation,
    createdAt: new Date().toISOString(),
    listeners: Object.freeze(listeners),
    clusters,
    warnings: Object.freeze(issues.issues.filter((i) => i.severity === 'warning')),
  });
  return { snapshot, issues: issues.issues };
}
