import type { ConfigIssue } from './issue.js';
import type { Snapshot } from './snapshot.js';
import type { ValidatedConfig } from './validate.js';
import { compileListeners } from './compile-listeners.js';
import { compileStreamListeners } from './compile-stream-listeners.js';
import { createIssueSink } from './compile-issues.js';
import { createServiceRegistry } from './service-registry.js';
import { warnIgnoredPolicies } from './compile-policy-warnings.js';
import { attachHealthChecks } from './compile-health-checks.js';
import type { ClusterConfig } from '../upstream/cluster.js';
import type { ServerCredentials } from './credentials.js';
import { defaultMeshConfig } from './mesh-defaults.js';
import type { MeshConfigSpec } from './kinds/mesh-config.js';
import { compileRateLimitAttachments } from './compile-rate-limits.js';
import { createInterner } from './interner.js';
import type { RateLimitSecrets } from './rate-limit-secrets.js';

// compile: a pure function from validated resources to one frozen Snapshot. Every matcher,
// weight table and cluster is built here once; the data plane only reads.

export function compileSnapshot(
  config: ValidatedConfig,
  generation: number,
  credentials: ServerCredentials = {},
  rateLimitSecrets?: RateLimitSecrets,
): { snapshot: Snapshot; issues: ConfigIssue[] } {
  const issues = createIssueSink();
  const clusters = new Map<string, ClusterConfig>();
  const rateLimits = compileRateLimitAttachments(config.rateLimitPolicies);
  const context = { registry: createServiceRegistry(config), clusters, issues, rateLimits, shared: createInterner() };
  const mesh: MeshConfigSpec = config.meshConfigs[0]?.spec ?? defaultMeshConfig;
  const listeners = compileListeners(config, context, credentials);
  const streamListeners = compileStreamListeners(config, context, listeners);
  for (const rule of config.destinationRules) warnIgnoredPolicies(rule, issues);
  attachHealthChecks(config.healthCheckPolicies, clusters, issues);
  const snapshot: Snapshot = Object.freeze({
    generation,
    createdAt: new Date().toISOString(),
    listeners: Object.freeze(listeners),
    streamListeners: Object.freeze(streamListeners),
    clusters,
    mesh,
    rateLimitBackend: {
      settings: mesh.rateLimit,
      ...(rateLimitSecrets === undefined ? {} : { secrets: rateLimitSecrets }),
      inUse: config.rateLimitPolicies.some((policy) => policy.spec.type === 'Global'),
    },
    rateLimitCounters: rateLimits.counters,
    warnings: Object.freeze(issues.issues.filter((i) => i.severity === 'warning')),
  });
  return { snapshot, issues: issues.issues };
}
