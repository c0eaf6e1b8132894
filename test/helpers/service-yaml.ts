// YAML for the resilience tests: a STATIC ServiceEntry whose endpoints are 127.0.0.1 upstreams on
// their own ports, a VirtualService of routes on the Gateway `edge`, and a DestinationRule.

/** ServiceEntry `host` on service port `servicePort`, one 127.0.0.1 endpoint per port in `endpointPorts`. */
export function serviceEntryYaml(name: string, host: string, servicePort: number, endpointPorts: readonly number[]): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ${name}
spec:
  hosts: [${host}]
  resolution: STATIC
  ports:
    - { number: ${servicePort}, name: http, protocol: HTTP }
  endpoints:
${endpointPorts.map((port) => `    - { address: 127.0.0.1, ports: { http: ${port} } }`).join('\n')}
---
`;
}

/** VirtualService `name` on Gateway `edge` for every host, with `routes` as its (indented) http list, or tcp list. */
export function virtualServiceYaml(name: string, routes: string, kind: 'http' | 'tcp' = 'http'): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${name}
spec:
  hosts: ["*"]
  gateways: [edge]
  ${kind}:
${routes}
---
`;
}

/** DestinationRule for `host` with `trafficPolicy` (indented YAML under trafficPolicy:). */
export function destinationRuleYaml(name: string, host: string, trafficPolicy: string): string {
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: ${name}
spec:
  host: ${host}
  trafficPolicy:
${trafficPolicy}
---
`;
}
