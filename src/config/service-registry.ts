import type { Resource, ValidatedConfig } from './validate.js';
import type { DestinationRuleSpec } from './kinds/destination-rule.js';
import type { ServiceEntrySpec } from './kinds/service-entry.js';
import type { WorkloadEntrySpec } from './kinds/workload-entry.js';
import { resolveShortName } from './fqdn.js';
import { hostMatches } from '../routing/host-match.js';

// What a standalone gateway knows of services: ServiceEntries (with their inline endpoints
// or the WorkloadEntries they select) and the DestinationRules that apply to a host. On a
// cluster istiod learns this from Kubernetes; here the YAML is the whole registry.

export interface ServiceRegistry {
  /** The ServiceEntry that declares a host: an exact host first, then the most specific wildcard. */
  serviceEntryFor(host: string): Resource<ServiceEntrySpec> | undefined;
  /** WorkloadEntries in a namespace whose labels include every selector label. */
  workloadEntriesFor(namespace: string, selector: Readonly<Record<string, string>>): readonly Resource<WorkloadEntrySpec>[];
  /** The DestinationRule for a host, preferring one in `namespace` (the routing resource's). */
  destinationRuleFor(host: string, namespace: string): Resource<DestinationRuleSpec> | undefined;
}

export function createServiceRegistry(config: ValidatedConfig): ServiceRegistry {
  const entries = config.serviceEntries.flatMap((se) => se.spec.hosts.map((host) => ({ host: host.toLowerCase(), se })));
  const rules = config.destinationRules.map((dr) => ({ host: resolveShortName(dr.spec.host, dr.metadata.namespace), dr }));

  return {
    serviceEntryFor(host) {
      return mostSpecific(entries, host)?.se;
    },
    workloadEntriesFor(namespace, selector) {
      return config.workloadEntries.filter(
        (we) => we.metadata.namespace === namespace && labelsInclude(we.spec.labels ?? {}, selector),
      );
    },
    destinationRuleFor(host, namespace) {
      const matching = rules.filter((r) => hostMatches(r.host, host));
      const best = mostSpecific(matching, host);
      if (best === undefined) return undefined;
      const sameHost = matching.filter((r) => r.host === best.host);
      return (sameHost.find((r) => r.dr.metadata.namespace === namespace) ?? best).dr;
    },
  };
}

/** True when `labels` carries every key/value of `selector` (Kubernetes label selection). */
export function labelsInclude(labels: Readonly<Record<string, string>>, selector: Readonly<Record<string, string>>): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

// Exact beats wildcard; among wildcards the longest (most specific) wins, as Istio resolves hosts.
function mostSpecific<T extends { host: string }>(candidates: readonly T[], host: string): T | undefined {
  let best: T | undefined;
  for (const candidate of candidates) {
    if (candidate.host === host) return candidate;
    if (hostMatches(candidate.host, host) && (best === undefined || candidate.host.length > best.host.length)) {
      best = candidate;
    }
  }
  return best;
}
