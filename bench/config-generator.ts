// The meshgate configurations the benchmarks run, as Istio YAML text. Shared by the config
// scale benchmark (compiled, never served) and the proxy benchmark (served to wrk).

import type { TlsFiles } from './tls-material.js';

export interface StaticEndpoint {
  readonly address: string;
  readonly port: number;
}

export interface ScaleConfigOptions {
  readonly gatewayPort: number;
  readonly virtualServices: number;
  readonly routesPerService: number;
  /**
   * When given, one STATIC ServiceEntry sends every destination host to this endpoint. Without
   * it the hosts are left to DNS, which is enough for a config that is compiled and not served.
   */
  readonly endpoint?: StaticEndpoint;
}

/**
 * A Gateway for `*.example.com` and one VirtualService per host `svc-N.example.com`, each with
 * `routesPerService - 1` matched routes (prefix, exact and regex uris, a header condition,
 * 90/10 weights to `svc-N.internal` / `svc-N-canary.internal`) and a catch-all last route.
 */
export function scaleConfigYaml(options: ScaleConfigOptions): string {
  const { virtualServices, routesPerService, endpoint } = options;
  const docs = [`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge }
spec:
  servers:
    - port: { number: ${options.gatewayPort}, name: http, protocol: HTTP }
      hosts: ["*.example.com"]`];
  for (let s = 0; s < virtualServices; s++) {
    const routes = [];
    for (let r = 0; r < routesPerService - 1; r++) {
      const match = `uri: { ${scaleRouteUriMatch(r)} }`;
      routes.push(`    - match:
        - ${match}
          headers: { x-tier: { exact: gold } }
        - ${match}
      route:
        - destination: { host: svc-${s}.internal, port: { number: 80 } }
          weight: 90
        - destination: { host: svc-${s}-canary.internal, port: { number: 80 } }
          weight: 10`);
    }
    routes.push(`    - route:
        - destination: { host: svc-${s}.internal, port: { number: 80 } }`);
    docs.push(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: svc-${s} }
spec:
  hosts: [svc-${s}.example.com]
  gateways: [edge]
  http:
${routes.join('\n')}`);
  }
  if (endpoint !== undefined) {
    const hosts = Array.from({ length: virtualServices }, (_, s) => `svc-${s}.internal, svc-${s}-canary.internal`);
    docs.push(staticServiceEntryYaml('scale-upstream', hosts.join(', '), endpoint));
  }
  return docs.join('\n---\n');
}

function scaleRouteUriMatch(route: number): string {
  return route % 3 === 0 ? `prefix: /api/v${route}/` : route % 3 === 1 ? `exact: /page/${route}` : `regex: "/items/[0-9]+/r${route}"`;
}

export interface ScaleRequest {
  readonly host: string;
  readonly path: string;
  /** Half the requests carry `x-tier: gold`, the header condition of the first match. */
  readonly gold: boolean;
}

/**
 * `count` requests spread over every virtual host of scaleConfigYaml() that hit every kind of
 * route; one in ten falls through to the catch-all route.
 */
export function scaleRequests(options: Pick<ScaleConfigOptions, 'virtualServices' | 'routesPerService'>, count: number): ScaleRequest[] {
  return Array.from({ length: count }, (_, i) => {
    const service = (i * 7919) % options.virtualServices;
    const r = i % options.routesPerService;
    const path =
      i % 10 === 9
        ? '/nothing/here'
        : r % 3 === 0
          ? `/api/v${r}/x`
          : r % 3 === 1
            ? `/page/${r}`
            : `/items/${i}/r${r}`;
    return { host: `svc-${service}.example.com`, path, gold: i % 2 === 1 };
  });
}

/** A Gateway for every host on `gatewayPort` (HTTPS with `tls`) and one VirtualService sending everything to `endpoint`. */
export function singleRouteConfigYaml(gatewayPort: number, endpoint: StaticEndpoint, tls?: TlsFiles): string {
  const server =
    tls === undefined
      ? `{ number: ${gatewayPort}, name: http, protocol: HTTP }`
      : `{ number: ${gatewayPort}, name: https, protocol: HTTPS }
      tls: { mode: SIMPLE, serverCertificate: ${JSON.stringify(tls.certFile)}, privateKey: ${JSON.stringify(tls.keyFile)} }`;
  return [
    `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge }
spec:
  servers:
    - hosts: ["*"]
      port: ${server}`,
    `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: upstream }
spec:
  hosts: ["*"]
  gateways: [edge]
  http:
    - route:
        - destination: { host: upstream.bench.internal, port: { number: 80 } }`,
    staticServiceEntryYaml('upstream', 'upstream.bench.internal', endpoint),
  ].join('\n---\n');
}

function staticServiceEntryYaml(name: string, hosts: string, endpoint: StaticEndpoint): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name} }
spec:
  hosts: [${hosts}]
  resolution: STATIC
  ports:
    - { number: 80, name: http, protocol: HTTP }
  endpoints:
    - address: ${endpoint.address}
      ports: { http: ${endpoint.port} }`;
}

/**
 * The single-route config with one RateLimitPolicy on its VirtualService, limited far above what
 * the run can send, so every request pays for the check and none is rejected. `redisUrl`: a
 * Global policy counted in that Redis (under a key prefix of its own); otherwise Local.
 */
export function rateLimitedConfigYaml(gatewayPort: number, endpoint: StaticEndpoint, redisUrl?: string): string {
  const policy = `apiVersion: meshgate.dev/v1alpha1
kind: RateLimitPolicy
metadata: { name: bench }
spec:
  targetRefs: [{ kind: VirtualService, name: upstream }]
  type: ${redisUrl === undefined ? 'Local' : 'Global'}
  rules:
    - limit: { requests: 1000000000, unit: Hour }`;
  const mesh = `apiVersion: meshgate.dev/v1alpha1
kind: MeshConfig
metadata: { name: mesh }
spec:
  rateLimit:
    backend: { redis: { url: ${JSON.stringify(redisUrl)}, keyPrefix: meshgate-bench-${process.pid}-${Date.now()} } }`;
  return [singleRouteConfigYaml(gatewayPort, endpoint), policy, ...(redisUrl === undefined ? [] : [mesh])].join('\n---\n');
}
