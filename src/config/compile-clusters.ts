import type { ServiceRegistry } from './service-registry.js';
import { labelsInclude } from './service-registry.js';
import type { DestinationRuleSpec, TrafficPolicy } from './kinds/destination-rule.js';
import type { ServiceEntrySpec, ServicePort } from './kinds/service-entry.js';
import type { WorkloadEntrySpec } from './kinds/workload-entry.js';
import type { Resource } from './validate.js';
import type { ClusterConfig } from '../upstream/cluster.js';
import type { Endpoint } from '../upstream/endpoint.js';
import type { Interner } from './interner.js';

// Turns a route destination (host, port, subset) into Envoy's unit of upstream config, the
// cluster `outbound|PORT|SUBSET|HOST`, with its endpoints and merged traffic policy.

/** Service port protocols whose upstream connections speak HTTP/2. */
const http2Protocols: ReadonlySet<string> = new Set(['HTTP2', 'GRPC']);

/** A Kubernetes Service name resolves on its port; HTTP's default stands in when none is named. */
const defaultServicePort = 80;

export interface DestinationRef {
  /** Fully qualified host. */
  readonly host: string;
  readonly subset?: string;
  readonly port?: number;
}

export type ClusterProblem =
  | { kind: 'port-ambiguous'; ports: readonly number[] }
  | { kind: 'port-unknown'; port: number; ports: readonly number[] }
  | { kind: 'port-defaulted' };

export interface ClusterResolution {
  readonly config: ClusterConfig;
  readonly problem?: ClusterProblem;
}

function clusterName(port: number, subset: string | undefined, host: string): string {
  return `outbound|${port}|${subset ?? ''}|${host}`;
}

/** `shared` shares a ServiceEntry's static endpoints between the clusters of its hosts. */
export function resolveCluster(ref: DestinationRef, namespace: string, registry: ServiceRegistry, shared: Interner): ClusterResolution {
  const entry = registry.serviceEntryFor(ref.host);
  const { servicePort, problem } = choosePort(ref, entry?.spec);
  const rule = registry.destinationRuleFor(ref.host, namespace);
  const trafficPolicy = rule === undefined ? undefined : mergeTrafficPolicy(rule.spec, ref.subset, servicePort.number);
  const subsetLabels = ref.subset === undefined ? undefined : rule?.spec.subsets?.find((s) => s.name === ref.subset)?.labels;

  const config: ClusterConfig = Object.freeze({
    name: clusterName(servicePort.number, ref.subset, ref.host),
    host: ref.host,
    port: servicePort.number,
    ...(ref.subset === undefined ? {} : { subset: ref.subset }),
    endpoints: endpointsOf(ref.host, entry, servicePort, subsetLabels ?? {}, registry, shared),
    ...(trafficPolicy?.loadBalancer === undefined ? {} : { loadBalancer: trafficPolicy.loadBalancer }),
    ...(http2Protocols.has(servicePort.protocol?.toUpperCase() ?? '') ? { protocol: 'HTTP2' as const } : {}),
    ...(trafficPolicy === undefined ? {} : { trafficPolicy }),
    ...(subsetLabels === undefined ? {} : { subsetLabels }),
    ...(entry === undefined ? {} : { serviceNamespace: entry.metadata.namespace }),
  });
  return problem === undefined ? { config } : { config, problem };
}

function choosePort(
  ref: DestinationRef,
  entry: ServiceEntrySpec | undefined,
): { servicePort: ServicePort; problem?: ClusterProblem } {
  const ports = entry?.ports ?? [];
  if (ref.port !== undefined) {
    const declared = ports.find((p) => p.number === ref.port);
    if (declared !== undefined || entry === undefined) return { servicePort: declared ?? { number: ref.port, name: '' } };
    return {
      servicePort: { number: ref.port, name: '' },
      problem: { kind: 'port-unknown', port: ref.port, ports: ports.map((p) => p.number) },
    };
  }
  // Istio: a destination may omit the port only when the service exposes exactly one.
  if (ports.length === 1) return { servicePort: ports[0]! };
  if (ports.length > 1) {
    return { servicePort: ports[0]!, problem: { kind: 'port-ambiguous', ports: ports.map((p) => p.number) } };
  }
  return { servicePort: { number: defaultServicePort, name: '' }, problem: { kind: 'port-defaulted' } };
}

function endpointsOf(
  host: string,
  entry: Resource<ServiceEntrySpec> | undefined,
  servicePort: ServicePort,
  subsetLabels: Readonly<Record<string, string>>,
  registry: ServiceRegistry,
  shared: Interner,
): ClusterConfig['endpoints'] {
  if (entry === undefined) {
    // No ServiceEntry: a Kubernetes Service or any DNS name, resolved on the service port.
    return { kind: 'dns', targets: [{ hostname: host, port: servicePort.number, labels: {}, weight: 1 }] };
  }
  const spec = entry.spec;
  const workloads: readonly WorkloadEntrySpec[] =
    spec.workloadSelector === undefined
      ? (spec.endpoints ?? [])
      : registry.workloadEntriesFor(entry.metadata.namespace, spec.workloadSelector.labels ?? {}).map((we) => we.spec);
  const selected = workloads.filter((w) => labelsInclude(w.labels ?? {}, subsetLabels));
  const portOf = (w: WorkloadEntrySpec) => w.ports?.[servicePort.name ?? ''] ?? servicePort.targetPort ?? servicePort.number;

  const resolution = spec.resolution ?? 'NONE';
  if (resolution === 'STATIC') {
    // Every host of the entry has the same endpoints, and the runtime keys its per-endpoint
    // strings by endpoint object: one list for all of them.
    const key = `static-endpoints ${entry.metadata.namespace}/${entry.metadata.name} ${servicePort.number} ${JSON.stringify(subsetLabels)}`;
    return shared.intern(key, () => {
      const endpoints: Endpoint[] = selected
        .filter((w) => w.address !== undefined)
        .map((w) => ({
          address: w.address!,
          port: portOf(w),
          labels: Object.freeze({ ...w.labels }),
          weight: endpointWeight(w),
          ...(w.locality === undefined ? {} : { locality: w.locality }),
        }));
      return Object.freeze({ kind: 'static', endpoints: Object.freeze(endpoints) });
    });
  }
  // DNS, DNS_ROUND_ROBIN, and NONE (which at an edge gateway can only mean "the host's own
  // address"): endpoints name hosts to resolve, or the service host itself when there are none.
  if (workloads.length === 0) {
    return {
      kind: 'dns',
      targets: Object.keys(subsetLabels).length === 0 ? [{ hostname: host, port: servicePort.targetPort ?? servicePort.number, labels: {}, weight: 1 }] : [],
    };
  }
  return {
    kind: 'dns',
    targets: selected
      .filter((w) => w.address !== undefined)
      .map((w) => ({ hostname: w.address!, port: portOf(w), labels: Object.freeze({ ...w.labels }), weight: endpointWeight(w) })),
  };
}

// Istio's GetLoadBalancingWeight: 0 is proto3's unset, and an unset weight is 1.
function endpointWeight(workload: WorkloadEntrySpec): number {
  return workload.weight || 1;
}

/** The fields a portLevelSettings entry carries. */
const portLevelFields = ['loadBalancer', 'connectionPool', 'outlierDetection', 'tls'] as const;

/**
 * Istio's precedence (MergeSubsetTrafficPolicy): the rule's policy on the port, then the subset's
 * policy on the port, whose set fields replace the rule's. On a port with a portLevelSettings
 * entry, that entry replaces the policy's four port-level fields whole, set or not: "settings
 * specified at the destination-level will not be inherited when overridden by port-level settings".
 */
function mergeTrafficPolicy(rule: DestinationRuleSpec, subset: string | undefined, port: number): TrafficPolicy | undefined {
  const subsetPolicy = subset === undefined ? undefined : rule.subsets?.find((s) => s.name === subset)?.trafficPolicy;
  const base = policyOnPort(rule.trafficPolicy, port);
  const over = policyOnPort(subsetPolicy, port);
  if (base === undefined && over === undefined) return undefined;
  const merged: Record<string, unknown> = { ...base?.fields };
  if (over?.portLevel === true) for (const field of portLevelFields) delete merged[field];
  return Object.freeze({ ...merged, ...over?.fields } as TrafficPolicy);
}

function policyOnPort(policy: TrafficPolicy | undefined, port: number): { fields: TrafficPolicy; portLevel: boolean } | undefined {
  if (policy === undefined) return undefined;
  const settings = policy.portLevelSettings?.find((s) => s.port?.number === port);
  if (settings !== undefined) {
    const { port: _port, ...fields } = settings;
    return { fields, portLevel: true };
  }
  const { portLevelSettings: _ignored, ...fields } = policy;
  return { fields, portLevel: false };
}
