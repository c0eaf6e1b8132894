import type { RateLimitPolicySpec } from './kinds/rate-limit-policy.js';
import type { Resource } from './validate.js';
import { compileRateLimitRules, type RateLimitCounts, type RateLimitFilter } from '../filters/ratelimit/rate-limit.js';

// RateLimitPolicies -> the filter of each route they reach. As in Envoy Gateway, the most
// specific attachment wins: a policy naming the http route, else one naming its VirtualService,
// else one naming the Gateway it is served through. Several policies at that level all apply.

export interface RateLimitAttachments {
  /** The filter of one http route (`index` in the VirtualService "ns/name", served through Gateway "ns/name"); undefined when no policy reaches it. */
  forRoute(virtualService: string, gateway: string, index: number, routeName: string | undefined): RateLimitFilter | undefined;
  /** Each policy's counts, by "namespace/name". */
  readonly counters: ReadonlyMap<string, RateLimitCounts>;
}

export function compileRateLimitAttachments(policies: readonly Resource<RateLimitPolicySpec>[]): RateLimitAttachments {
  const counters = new Map<string, RateLimitCounts>();
  const byTarget = new Map<string, Resource<RateLimitPolicySpec>[]>();
  for (const policy of policies) {
    counters.set(`${policy.metadata.namespace}/${policy.metadata.name}`, { allowed: 0, limited: 0, shadowLimited: 0, error: 0 });
    for (const target of policy.spec.targetRefs) {
      const key = `${target.kind}/${policy.metadata.namespace}/${target.name}${target.sectionName === undefined ? '' : `#${target.sectionName}`}`;
      byTarget.set(key, [...(byTarget.get(key) ?? []), policy]);
    }
  }
  return {
    counters,
    forRoute(virtualService, gateway, index, routeName) {
      if (byTarget.size === 0) return undefined;
      const attached =
        (routeName === undefined ? undefined : byTarget.get(`VirtualService/${virtualService}#${routeName}`)) ??
        byTarget.get(`VirtualService/${virtualService}`) ??
        byTarget.get(`Gateway/${gateway}`);
      if (attached === undefined) return undefined;
      const route = `${virtualService}/http/${index}`;
      const rules = attached.flatMap((policy) => compileRateLimitRules(policy, route, counters.get(`${policy.metadata.namespace}/${policy.metadata.name}`)!));
      return Object.freeze({ rules: Object.freeze(rules) });
    },
  };
}
