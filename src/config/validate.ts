import type { z } from 'zod';
import type { ConfigErrorCode } from '../errors.js';
import { resolveShortName } from './fqdn.js';
import { formatPath, type ConfigIssue, type FieldPath, type IssueSeverity } from './issue.js';
import { DestinationRuleSpec } from './kinds/destination-rule.js';
import { GatewaySpec } from './kinds/gateway.js';
import { ServiceEntrySpec } from './kinds/service-entry.js';
import { VirtualServiceSpec, type Destination } from './kinds/virtual-service.js';
import { WorkloadEntrySpec } from './kinds/workload-entry.js';
import { HealthCheckPolicySpec } from './kinds/health-check-policy.js';
import { MeshConfigSpec } from './kinds/mesh-config.js';
import { RateLimitPolicySpec } from './kinds/rate-limit-policy.js';
import type { LoadedResource, ResourceMetadata } from './load.js';
import type { SourcePosition } from './position.js';
import { createServiceRegistry, type ServiceRegistry } from './service-registry.js';
import { resolveGatewayName } from '../routing/request-match.js';
import { parseGatewayServerHost } from '../routing/host-match.js';

// Validate gives loaded resources their meaning: each spec against its kind's schema, then the
// checks only the whole configuration can make (duplicates, references between resources,
// Gateway servers sharing a port). Every issue is collected; a resource with an error is left
// out of the result, and the rest stays usable.

export interface Resource<Spec> {
  readonly kind: string;
  readonly apiVersion: string;
  readonly metadata: ResourceMetadata;
  readonly spec: Spec;
  readonly file: string;
  readonly line: number;
  locate(path: FieldPath): SourcePosition;
}

export interface ValidatedConfig {
  readonly gateways: readonly Resource<GatewaySpec>[];
  readonly virtualServices: readonly Resource<VirtualServiceSpec>[];
  readonly destinationRules: readonly Resource<DestinationRuleSpec>[];
  readonly serviceEntries: readonly Resource<ServiceEntrySpec>[];
  readonly workloadEntries: readonly Resource<WorkloadEntrySpec>[];
  readonly healthCheckPolicies: readonly Resource<HealthCheckPolicySpec>[];
  /** At most one. */
  readonly meshConfigs: readonly Resource<MeshConfigSpec>[];
  readonly rateLimitPolicies: readonly Resource<RateLimitPolicySpec>[];
}

export interface ValidationResult {
  readonly config: ValidatedConfig;
  readonly issues: ConfigIssue[];
}

const specSchemas: Readonly<Record<string, z.ZodType>> = {
  Gateway: GatewaySpec,
  VirtualService: VirtualServiceSpec,
  DestinationRule: DestinationRuleSpec,
  ServiceEntry: ServiceEntrySpec,
  WorkloadEntry: WorkloadEntrySpec,
  HealthCheckPolicy: HealthCheckPolicySpec,
  MeshConfig: MeshConfigSpec,
  RateLimitPolicy: RateLimitPolicySpec,
};

/** Kinds the gateway reads once: a second definition is an error naming the first. */
const singletonKinds = new Set(['MeshConfig']);

type Report = (path: FieldPath, code: ConfigErrorCode, message: string, severity?: IssueSeverity) => void;

interface Checked {
  readonly resource: Resource<unknown>;
  readonly report: Report;
  failed: boolean;
}

export function validateConfig(resources: readonly LoadedResource[]): ValidationResult {
  const issues: ConfigIssue[] = [];
  const seen = new Map<string, LoadedResource>();
  const checked: Checked[] = [];
  for (const loaded of resources) {
    const entry = checkSchema(loaded, issues);
    const key = `${loaded.kind}/${loaded.metadata.namespace}/${loaded.metadata.name}`;
    const first = seen.get(key);
    const firstOfKind = singletonKinds.has(loaded.kind) ? seen.get(loaded.kind) : undefined;
    if (first !== undefined) {
      entry.report(['metadata', 'name'], 'MG_ERR_CONFIG_DUPLICATE_RESOURCE', `${loaded.kind} ${loaded.metadata.namespace}/${loaded.metadata.name} is already defined at ${first.file}:${first.line}`);
    } else if (firstOfKind !== undefined) {
      entry.report(['metadata', 'name'], 'MG_ERR_CONFIG_SINGLETON', `only one ${loaded.kind} is read; the first is ${firstOfKind.metadata.namespace}/${firstOfKind.metadata.name} at ${firstOfKind.file}:${firstOfKind.line}`);
    } else {
      seen.set(key, loaded);
      if (singletonKinds.has(loaded.kind)) seen.set(loaded.kind, loaded);
    }
    if (entry.resource !== undefined) checked.push(entry as Checked);
  }
  const valid = (kind: string) => checked.filter((entry) => entry.resource.kind === kind && !entry.failed);
  const gateways = valid('Gateway') as Typed<GatewaySpec>[];
  const virtualServices = valid('VirtualService') as Typed<VirtualServiceSpec>[];
  checkGatewayServers(gateways);
  checkGatewayReferences(virtualServices, gateways);
  checkRateLimitPolicies(valid('RateLimitPolicy') as Typed<RateLimitPolicySpec>[], gateways, virtualServices, valid('MeshConfig') as Typed<MeshConfigSpec>[]);
  const keep = <Spec>(kind: string) => Object.freeze(valid(kind).map((entry) => entry.resource as Resource<Spec>));
  const config: ValidatedConfig = Object.freeze({
    gateways: keep<GatewaySpec>('Gateway'),
    virtualServices: keep<VirtualServiceSpec>('VirtualService'),
    destinationRules: keep<DestinationRuleSpec>('DestinationRule'),
    serviceEntries: keep<ServiceEntrySpec>('ServiceEntry'),
    workloadEntries: keep<WorkloadEntrySpec>('WorkloadEntry'),
    healthCheckPolicies: keep<HealthCheckPolicySpec>('HealthCheckPolicy'),
    meshConfigs: keep<MeshConfigSpec>('MeshConfig'),
    rateLimitPolicies: keep<RateLimitPolicySpec>('RateLimitPolicy'),
  });
  checkSubsetReferences(virtualServices, createServiceRegistry(config));
  const fileOrder = new Map(resources.map((resource, index) => [resource.file, index]));
  const order = (issue: ConfigIssue) => fileOrder.get(issue.file) ?? 0;
  issues.sort((a, b) => order(a) - order(b) || a.line - b.line || a.column - b.column);
  return { config, issues };
}

interface Typed<Spec> extends Checked {
  readonly resource: Resource<Spec>;
}

function checkSchema(loaded: LoadedResource, issues: ConfigIssue[]): Checked | (Omit<Checked, 'resource'> & { resource?: undefined }) {
  const entry = {
    failed: false,
    report: ((path, code, message, severity = 'error') => {
      const { line, column } = loaded.locate(path);
      if (severity === 'error') entry.failed = true;
      issues.push({
        code,
        severity,
        file: loaded.file,
        line,
        column,
        kind: loaded.kind,
        resource: `${loaded.metadata.namespace}/${loaded.metadata.name}`,
        path: formatPath(path),
        message,
      });
    }) as Report,
    resource: undefined as Resource<unknown> | undefined,
  };
  const schema = specSchemas[loaded.kind];
  if (schema === undefined) return entry;
  if (loaded.spec === undefined || loaded.spec === null) {
    entry.report(['spec'], 'MG_ERR_CONFIG_FIELD_REQUIRED', `a ${loaded.kind} needs a spec`);
    return entry;
  }
  const parsed = schema.safeParse(withoutNulls(loaded.spec), { reportInput: true });
  if (!parsed.success) {
    const reference = loaded.apiVersion.startsWith('meshgate.dev/') ? `meshgate's ${loaded.kind} (README)` : 'the Istio API';
    for (const issue of parsed.error.issues) reportZodIssue(issue, entry.report, reference);
    return entry;
  }
  const { apiVersion, kind, metadata, file, line, locate } = loaded;
  entry.resource = Object.freeze({ apiVersion, kind, metadata, spec: deepFreeze(parsed.data), file, line, locate });
  return entry;
}

function reportZodIssue(issue: z.core.$ZodIssue, report: Report, reference: string): void {
  const path: FieldPath = ['spec', ...issue.path.map((segment) => (typeof segment === 'symbol' ? String(segment) : segment))];
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case 'unrecognized_keys':
      for (const key of issue.keys) report([...path, key], 'MG_ERR_CONFIG_FIELD_UNKNOWN', `unknown field ${JSON.stringify(key)}; check its spelling and indentation against ${reference}`);
      return;
    case 'invalid_type':
      if (input === undefined) report(path, 'MG_ERR_CONFIG_FIELD_REQUIRED', `required field ${JSON.stringify(lastKey(path))} is missing (expected ${describeExpected(issue.expected)})`);
      else report(path, 'MG_ERR_CONFIG_FIELD_TYPE', `expected ${describeExpected(issue.expected)}, got ${describeValue(input)}`);
      return;
    case 'invalid_value':
      report(path, 'MG_ERR_CONFIG_FIELD_ENUM', `expected one of ${issue.values.map(String).join(', ')}, got ${describeValue(input)}`);
      return;
    case 'too_small':
      if (issue.origin === 'array') report(path, 'MG_ERR_CONFIG_FIELD_REQUIRED', `expected at least ${String(issue.minimum)} item(s)`);
      else report(path, 'MG_ERR_CONFIG_FIELD_VALUE', `expected a value >= ${String(issue.minimum)}, got ${describeValue(input)}`);
      return;
    case 'too_big':
      report(path, 'MG_ERR_CONFIG_FIELD_VALUE', `expected a value <= ${String(issue.maximum)}, got ${describeValue(input)}`);
      return;
    case 'custom': {
      const code = (issue.params as { code?: ConfigErrorCode } | undefined)?.code ?? 'MG_ERR_CONFIG_FIELD_VALUE';
      report(path, code, issue.message);
      return;
    }
    case 'invalid_format':
      report(path, 'MG_ERR_CONFIG_FIELD_VALUE', `expected ${issue.format} text, got ${describeValue(input)}`);
      return;
    default:
      report(path, 'MG_ERR_CONFIG_FIELD_VALUE', issue.message);
  }
}

function lastKey(path: FieldPath): string {
  return String(path[path.length - 1]);
}

function describeExpected(expected: string): string {
  return expected === 'int' ? 'an integer' : expected === 'array' ? 'a list' : expected === 'object' || expected === 'record' ? 'a map' : `a ${expected}`;
}

function describeValue(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object' && value !== null) return 'a map';
  return `${typeof value} ${JSON.stringify(value)}`;
}

// Kubernetes treats an explicit null (`field:` with nothing after it) as the field being absent.
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(value)) if (entry !== null) out[key] = withoutNulls(entry);
  return out;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const entry of Object.values(value)) deepFreeze(entry);
  }
  return value;
}

// Gateway servers from every Gateway share one proxy. Servers on one port (and bind address)
// must agree on how the port is read: HTTP-family servers by Host header, HTTPS and TLS servers
// by SNI (the two may share a port, as Istio builds one filter chain per SNI), anything else
// alone. Two servers on one port may not claim the same host.
function checkGatewayServers(gateways: readonly Typed<GatewaySpec>[]): void {
  interface Claim { readonly family: string; readonly protocol: string; readonly where: string; readonly hosts: Map<string, string> }
  const ports = new Map<string, Claim>();
  for (const gateway of gateways) {
    const { resource, report } = gateway;
    resource.spec.servers.forEach((server, serverIndex) => {
      const portKey = `${server.bind ?? ''}:${server.port.number}`;
      const where = `${resource.kind} ${resource.metadata.namespace}/${resource.metadata.name} spec.servers[${serverIndex}]`;
      const family = protocolFamily(server.port.protocol);
      const claim = ports.get(portKey);
      if (claim === undefined) {
        ports.set(portKey, { family, protocol: server.port.protocol, where, hosts: new Map(server.hosts.map((host) => [qualifyServerHost(host), where])) });
        return;
      }
      if (claim.family !== family) {
        report(['spec', 'servers', serverIndex, 'port', 'protocol'], 'MG_ERR_CONFIG_PORT_PROTOCOL', `port ${server.port.number} is ${claim.protocol} in ${claim.where}; a ${server.port.protocol} server cannot share it`);
        return;
      }
      server.hosts.forEach((host, hostIndex) => {
        const key = qualifyServerHost(host);
        const owner = claim.hosts.get(key);
        if (owner !== undefined) {
          report(['spec', 'servers', serverIndex, 'hosts', hostIndex], 'MG_ERR_CONFIG_SERVER_DUPLICATE', `host ${JSON.stringify(host)} on port ${server.port.number} is already served by ${owner}`);
        } else {
          claim.hosts.set(key, where);
        }
      });
    });
  }
}

function protocolFamily(protocol: string): string {
  if (['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB', 'HTTP_PROXY'].includes(protocol)) return 'HTTP';
  if (protocol === 'HTTPS' || protocol === 'TLS') return 'TLS';
  return protocol;
}

/** "foo.com" means "*\/foo.com" (any namespace); host names compare case-insensitively. */
function qualifyServerHost(entry: string): string {
  const { namespace, host } = parseGatewayServerHost(entry);
  return `${namespace}/${host}`.toLowerCase();
}

function checkGatewayReferences(virtualServices: readonly Typed<VirtualServiceSpec>[], gateways: readonly Typed<GatewaySpec>[]): void {
  const known = new Set(gateways.map(({ resource }) => `${resource.metadata.namespace}/${resource.metadata.name}`));
  for (const { resource, report } of virtualServices) {
    const check = (names: readonly string[] | undefined, path: FieldPath) =>
      names?.forEach((name, index) => {
        if (name === 'mesh') {
          report([...path, index], 'MG_ERR_CONFIG_UNSUPPORTED', 'the reserved gateway "mesh" means sidecars inside a mesh; meshgate has none and ignores it', 'warning');
          return;
        }
        const qualified = resolveGatewayName(name, resource.metadata.namespace);
        if (!known.has(qualified)) report([...path, index], 'MG_ERR_CONFIG_GATEWAY_MISSING', `no Gateway ${qualified} is defined (a name without "namespace/" is looked up in the VirtualService's namespace)`);
      });
    const { spec } = resource;
    check(spec.gateways, ['spec', 'gateways']);
    spec.http?.forEach((route, i) => route.match?.forEach((match, j) => check(match.gateways, ['spec', 'http', i, 'match', j, 'gateways'])));
    spec.tls?.forEach((route, i) => route.match.forEach((match, j) => check(match.gateways, ['spec', 'tls', i, 'match', j, 'gateways'])));
    spec.tcp?.forEach((route, i) => route.match?.forEach((match, j) => check(match.gateways, ['spec', 'tcp', i, 'match', j, 'gateways'])));
  }
}

// The DestinationRule that compile will apply to the host (service-registry.ts) must define the
// subset: validating against any other rule would accept a route that compiles to no endpoints.
function checkSubsetReferences(virtualServices: readonly Typed<VirtualServiceSpec>[], registry: ServiceRegistry): void {
  for (const { resource, report } of virtualServices) {
    const check = (destination: Destination | undefined, path: FieldPath) => {
      if (destination?.subset === undefined) return;
      const host = resolveShortName(destination.host, resource.metadata.namespace);
      const rule = registry.destinationRuleFor(host, resource.metadata.namespace);
      const subsets = (rule?.spec.subsets ?? []).map((subset) => subset.name);
      if (subsets.includes(destination.subset)) return;
      report([...path, 'subset'], 'MG_ERR_CONFIG_SUBSET_MISSING', rule === undefined
        ? `subset ${JSON.stringify(destination.subset)} needs a DestinationRule for host ${host}, and there is none`
        : `DestinationRule ${rule.metadata.namespace}/${rule.metadata.name} (the one for host ${host}) does not define subset ${JSON.stringify(destination.subset)}; it defines: ${subsets.join(', ') || 'none'}`);
    };
    const { spec } = resource;
    spec.http?.forEach((route, i) => {
      route.route?.forEach((target, j) => check(target.destination, ['spec', 'http', i, 'route', j, 'destination']));
      check(route.mirror, ['spec', 'http', i, 'mirror']);
      route.mirrors?.forEach((mirror, j) => check(mirror.destination, ['spec', 'http', i, 'mirrors', j, 'destination']));
    });
    spec.tls?.forEach((route, i) => route.route?.forEach((target, j) => check(target.destination, ['spec', 'tls', i, 'route', j, 'destination'])));
    spec.tcp?.forEach((route, i) => route.route?.forEach((target, j) => check(target.destination, ['spec', 'tcp', i, 'route', j, 'destination'])));
  }
}

// A RateLimitPolicy must name what exists (a route by its http[].name), and a Global one needs
// the Redis that MeshConfig configures: the embedded default has none.
function checkRateLimitPolicies(
  policies: readonly Typed<RateLimitPolicySpec>[],
  gateways: readonly Typed<GatewaySpec>[],
  virtualServices: readonly Typed<VirtualServiceSpec>[],
  meshConfigs: readonly Typed<MeshConfigSpec>[],
): void {
  const named = (list: readonly Typed<unknown>[]) => new Map(list.map(({ resource }) => [`${resource.metadata.namespace}/${resource.metadata.name}`, resource]));
  const knownGateways = named(gateways);
  const knownServices = named(virtualServices) as Map<string, Resource<VirtualServiceSpec>>;
  const backend = meshConfigs[0]?.resource.spec.rateLimit.backend;
  for (const { resource, report } of policies) {
    const { namespace } = resource.metadata;
    resource.spec.targetRefs.forEach((target, index) => {
      const path = ['spec', 'targetRefs', index];
      const key = `${namespace}/${target.name}`;
      if (target.kind === 'Gateway') {
        if (target.sectionName !== undefined) report([...path, 'sectionName'], 'MG_ERR_CONFIG_FIELD_VALUE', 'sectionName names an http route, so it only goes with kind VirtualService');
        else if (!knownGateways.has(key)) report([...path, 'name'], 'MG_ERR_RATELIMIT_TARGET', `no Gateway ${key} is defined (a policy targets resources of its own namespace)`);
        return;
      }
      const vs = knownServices.get(key);
      if (vs === undefined) {
        report([...path, 'name'], 'MG_ERR_RATELIMIT_TARGET', `no VirtualService ${key} is defined (a policy targets resources of its own namespace)`);
        return;
      }
      const routeNames = (vs.spec.http ?? []).flatMap((http) => (http.name === undefined ? [] : [http.name]));
      if (target.sectionName !== undefined && !routeNames.includes(target.sectionName)) {
        report([...path, 'sectionName'], 'MG_ERR_RATELIMIT_TARGET', `VirtualService ${key} has no http route named ${JSON.stringify(target.sectionName)}; its named routes: ${routeNames.join(', ') || 'none'}`);
      }
    });
    if (resource.spec.type === 'Global' && backend === undefined) {
      report(['spec', 'type'], 'MG_ERR_RATELIMIT_BACKEND', 'a Global limit is counted in Redis, and none is configured: add a MeshConfig with spec.rateLimit.backend.redis.url (see README, Rate limits), or use type: Local');
    }
  }
}
