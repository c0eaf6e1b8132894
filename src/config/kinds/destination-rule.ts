import { z } from 'zod';
import {
  addCodedIssue,
  duration,
  exportTo,
  integer,
  labelMap,
  oneOf,
  PortSelector,
  portNumber,
  ruleHost,
  stringList,
  subsetName,
  uint32,
  uint64,
  whenObject,
  atLeastOneMillisecond,
} from './common.js';
import { unlimited } from '../unlimited.js';

// DestinationRule (istio/api networking/v1alpha3/destination_rule.proto): what happens to
// traffic for a host once routed: load balancing, connection pools, outlier detection, TLS
// origination, per-port policies and the subsets routes name. Defaults are the proto's own.

export const HTTPCookie = z.strictObject({
  name: z.string(),
  path: z.string().optional(),
  ttl: duration.optional(),
  attributes: z.array(z.strictObject({ name: z.string(), value: z.string().optional() })).optional(),
});
export type HTTPCookie = z.output<typeof HTTPCookie>;

export const ConsistentHashLB = z
  .strictObject({
    httpHeaderName: z.string().optional(),
    httpCookie: HTTPCookie.optional(),
    useSourceIp: z.boolean().optional(),
    httpQueryParameterName: z.string().optional(),
    // The proto: default ring size 1024, default Maglev table size 65537.
    ringHash: z.strictObject({ minimumRingSize: uint64.default(1024) }).optional(),
    maglev: z.strictObject({ tableSize: uint64.default(65537) }).optional(),
    /** Deprecated in Istio in favour of ringHash.minimumRingSize. */
    minimumRingSize: uint64.optional(),
  })
  .check(oneOf(['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName']))
  .check(oneOf(['ringHash', 'maglev']));
export type ConsistentHashLB = z.output<typeof ConsistentHashLB>;

export const LocalityLoadBalancerSetting = z
  .strictObject({
    distribute: z.array(z.strictObject({ from: z.string().optional(), to: z.record(z.string(), uint32).optional() })).optional(),
    failover: z.array(z.strictObject({ from: z.string().optional(), to: z.string().optional() })).optional(),
    failoverPriority: stringList.optional(),
    enabled: z.boolean().optional(),
  })
  // Istio: "can not simultaneously set 'distribute' and 'failover'".
  .check(oneOf(['distribute', 'failover']));
export type LocalityLoadBalancerSetting = z.output<typeof LocalityLoadBalancerSetting>;

export const WarmupConfiguration = z.strictObject({
  duration,
  // The proto: minimum 10% of traffic while warming, aggression 1.0 (linear).
  minimumPercent: z.number().min(0).max(100).default(10),
  aggression: z.number().min(1).default(1),
});
export type WarmupConfiguration = z.output<typeof WarmupConfiguration>;

export const LoadBalancerSettings = z
  .strictObject({
    simple: z.enum(['UNSPECIFIED', 'LEAST_CONN', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST']).optional(),
    consistentHash: ConsistentHashLB.optional(),
    localityLbSetting: LocalityLoadBalancerSetting.optional(),
    warmupDurationSecs: duration.optional(),
    warmup: WarmupConfiguration.optional(),
  })
  .check(oneOf(['simple', 'consistentHash']))
  .check(oneOf(['warmupDurationSecs', 'warmup']));
export type LoadBalancerSettings = z.output<typeof LoadBalancerSettings>;

export const TCPSettings = z.strictObject({
  // The proto: maxConnections default 2^32-1, connectTimeout default 10s.
  maxConnections: integer(0, unlimited).default(unlimited),
  connectTimeout: duration.default(10_000),
  tcpKeepalive: z
    .strictObject({
      probes: uint32.optional(),
      time: duration.optional(),
      interval: duration.optional(),
    })
    .optional(),
  maxConnectionDuration: duration.optional(),
  idleTimeout: duration.optional(),
});
export type TCPSettings = z.output<typeof TCPSettings>;

export const HTTPSettings = z.strictObject({
  // The proto: pending/concurrent request and retry limits default to 2^32-1, idle timeout to 1 hour.
  http1MaxPendingRequests: integer(0, unlimited).default(unlimited),
  http2MaxRequests: integer(0, unlimited).default(unlimited),
  maxRequestsPerConnection: integer(0, 2147483647).optional(),
  maxRetries: integer(0, unlimited).default(unlimited),
  idleTimeout: duration.default(3_600_000),
  h2UpgradePolicy: z.enum(['DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE']).optional(),
  useClientProtocol: z.boolean().optional(),
  maxConcurrentStreams: integer(0, 2147483647).optional(),
});
export type HTTPSettings = z.output<typeof HTTPSettings>;

export const ConnectionPoolSettings = z.strictObject({
  tcp: TCPSettings.optional(),
  http: HTTPSettings.optional(),
});
export type ConnectionPoolSettings = z.output<typeof ConnectionPoolSettings>;

export const OutlierDetection = z.strictObject({
  /** Deprecated in Istio in favour of consecutiveGatewayErrors and consecutive5xxErrors. */
  consecutiveErrors: integer(0, 2147483647).optional(),
  splitExternalLocalOriginErrors: z.boolean().optional(),
  consecutiveLocalOriginFailures: uint32.optional(),
  consecutiveGatewayErrors: uint32.optional(),
  consecutive5xxErrors: uint32.optional(),
  // The proto: interval 10s, base ejection time 30s, at most 10% ejected, panic threshold 0%.
  interval: duration.default(10_000),
  baseEjectionTime: duration.default(30_000),
  maxEjectionPercent: integer(0, 100).default(10),
  minHealthPercent: integer(0, 100).default(0),
}).check(atLeastOneMillisecond(['interval', 'baseEjectionTime']));
export type OutlierDetection = z.output<typeof OutlierDetection>;

export const ClientTLSSettings = z
  .strictObject({
    mode: z.enum(['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL']).optional(),
    clientCertificate: z.string().optional(),
    privateKey: z.string().optional(),
    caCertificates: z.string().optional(),
    credentialName: z.string().optional(),
    subjectAltNames: stringList.optional(),
    sni: z.string().optional(),
    insecureSkipVerify: z.boolean().optional(),
    caCrl: z.string().optional(),
  })
  .check(
    z.superRefine((tls, ctx) => {
      // Istio's validateTLS: certificates come from credentialName or from files, not both.
      if (tls.credentialName !== undefined) {
        for (const field of ['clientCertificate', 'privateKey', 'caCertificates'] as const) {
          if (tls[field] !== undefined) addCodedIssue(ctx, 'MG_ERR_CONFIG_ONEOF', `${field} cannot be set together with credentialName`, [field]);
        }
      } else if (tls.mode === 'MUTUAL') {
        for (const field of ['clientCertificate', 'privateKey'] as const) {
          if (tls[field] === undefined) addCodedIssue(ctx, 'MG_ERR_CONFIG_FIELD_REQUIRED', `TLS mode MUTUAL needs ${field} (or credentialName)`, [field]);
        }
      }
    }, whenObject),
  );
export type ClientTLSSettings = z.output<typeof ClientTLSSettings>;

export const TunnelSettings = z.strictObject({
  // The proto: CONNECT unless POST is chosen.
  protocol: z.enum(['CONNECT', 'POST']).default('CONNECT'),
  targetHost: z.string(),
  targetPort: portNumber,
});
export type TunnelSettings = z.output<typeof TunnelSettings>;

export const ProxyProtocol = z.strictObject({ version: z.enum(['V1', 'V2']).optional() });
export type ProxyProtocol = z.output<typeof ProxyProtocol>;

export const RetryBudget = z.strictObject({
  // The proto: 20% of active requests, at least 3 concurrent retries.
  percent: z.number().min(0).max(100).default(20),
  minRetryConcurrency: uint32.default(3),
});
export type RetryBudget = z.output<typeof RetryBudget>;

export const PortTrafficPolicy = z.strictObject({
  port: PortSelector.optional(),
  loadBalancer: LoadBalancerSettings.optional(),
  connectionPool: ConnectionPoolSettings.optional(),
  outlierDetection: OutlierDetection.optional(),
  tls: ClientTLSSettings.optional(),
});
export type PortTrafficPolicy = z.output<typeof PortTrafficPolicy>;

export const TrafficPolicy = z.strictObject({
  loadBalancer: LoadBalancerSettings.optional(),
  connectionPool: ConnectionPoolSettings.optional(),
  outlierDetection: OutlierDetection.optional(),
  tls: ClientTLSSettings.optional(),
  portLevelSettings: z.array(PortTrafficPolicy).optional(),
  tunnel: TunnelSettings.optional(),
  proxyProtocol: ProxyProtocol.optional(),
  retryBudget: RetryBudget.optional(),
});
export type TrafficPolicy = z.output<typeof TrafficPolicy>;

export const Subset = z.strictObject({
  name: subsetName,
  labels: labelMap.optional(),
  trafficPolicy: TrafficPolicy.optional(),
});
export type Subset = z.output<typeof Subset>;

export const DestinationRuleSpec = z
  .strictObject({
    host: ruleHost,
    trafficPolicy: TrafficPolicy.optional(),
    subsets: z.array(Subset).optional(),
    exportTo: exportTo.optional(),
    workloadSelector: z.strictObject({ matchLabels: labelMap.optional() }).optional(),
  })
  .check(
    z.superRefine((rule, ctx) => {
      const seen = new Set<unknown>();
      (Array.isArray(rule.subsets) ? rule.subsets : []).forEach((subset, index) => {
        const name = (subset as { name?: unknown } | null)?.name;
        if (typeof name !== 'string') return;
        if (seen.has(name)) addCodedIssue(ctx, 'MG_ERR_CONFIG_FIELD_VALUE', `subset ${JSON.stringify(name)} is defined twice`, ['subsets', index, 'name']);
        seen.add(name);
      });
    }, whenObject),
  );
export type DestinationRuleSpec = z.output<typeof DestinationRuleSpec>;
