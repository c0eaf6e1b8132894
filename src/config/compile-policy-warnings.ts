import type { DestinationRuleSpec, PortTrafficPolicy, TrafficPolicy } from './kinds/destination-rule.js';
import type { IssueSink } from './compile-issues.js';
import type { Resource } from './validate.js';

// DestinationRule settings that would change how traffic flows but that this build does not act
// on yet: each one gets a MG_ERR_CONFIG_UNSUPPORTED warning at its line, so nobody relies on it
// in silence.

type Path = (string | number)[];

const ignoredPolicyFields = ['tls', 'tunnel', 'proxyProtocol', 'retryBudget'] as const;
// Envoy's split of local-origin errors; meshgate counts them with the upstream's 5xx, as Envoy does unsplit.
const ignoredOutlierFields = ['splitExternalLocalOriginErrors', 'consecutiveLocalOriginFailures'] as const;
const ignoredHttpFields = ['h2UpgradePolicy', 'useClientProtocol', 'maxConcurrentStreams'] as const;
// tcp.idleTimeout is acted on by TCP relays (tcp-relay.ts).
const ignoredTcpFields = ['maxConnectionDuration'] as const;

export function warnIgnoredPolicies(rule: Resource<DestinationRuleSpec>, issues: IssueSink): void {
  const check = (policy: TrafficPolicy | PortTrafficPolicy | undefined, path: Path) => {
    if (policy === undefined) return;
    const notYet = (field: Path, what: string) =>
      issues.unsupported(rule, [...path, ...field], `${what} is valid Istio but meshgate does not act on it yet; it is ignored`);
    for (const field of ignoredPolicyFields) {
      if ((policy as Record<string, unknown>)[field] !== undefined) notYet([field], `trafficPolicy.${field}`);
    }
    const { loadBalancer, connectionPool, outlierDetection } = policy;
    for (const field of ignoredOutlierFields) {
      if (outlierDetection?.[field] !== undefined) notYet(['outlierDetection', field], `outlierDetection.${field}`);
    }
    if (loadBalancer?.localityLbSetting !== undefined) notYet(['loadBalancer', 'localityLbSetting'], 'loadBalancer.localityLbSetting');
    if (loadBalancer?.warmup !== undefined || loadBalancer?.warmupDurationSecs !== undefined) {
      notYet(['loadBalancer', loadBalancer.warmup === undefined ? 'warmupDurationSecs' : 'warmup'], 'loadBalancer warm-up');
    }
    for (const field of ignoredHttpFields) {
      if (connectionPool?.http?.[field] !== undefined) notYet(['connectionPool', 'http', field], `connectionPool.http.${field}`);
    }
    for (const field of ignoredTcpFields) {
      if (connectionPool?.tcp?.[field] !== undefined) notYet(['connectionPool', 'tcp', field], `connectionPool.tcp.${field}`);
    }
    if ('portLevelSettings' in policy) policy.portLevelSettings?.forEach((port, i) => check(port, [...path, 'portLevelSettings', i]));
  };
  check(rule.spec.trafficPolicy, ['spec', 'trafficPolicy']);
  rule.spec.subsets?.forEach((subset, i) => check(subset.trafficPolicy, ['spec', 'subsets', i, 'trafficPolicy']));
}
