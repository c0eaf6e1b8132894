import { testMeshSpec } from './gateway-process.js';

// RateLimitPolicy and MeshConfig documents for tests (each starts with `---`).

/** A policy on the http route `route` of VirtualService `app`. */
export function rateLimitPolicyYaml(name: string, route: string, rules: string, type: 'Local' | 'Global' = 'Local'): string {
  return `---
apiVersion: meshgate.dev/v1alpha1
kind: RateLimitPolicy
metadata:
  name: ${name}
spec:
  targetRefs:
    - { kind: VirtualService, name: app, sectionName: ${route} }
  type: ${type}
  rules:
${rules}
`;
}

/** An http route named `name` for the prefix `/name`, to the app upstream (for appRouteYaml's extraRoute). */
export function namedRouteYaml(name: string, upstreamPort: number): string {
  return `
    - name: ${name}
      match: [{ uri: { prefix: /${name} } }]
      route: [{ destination: { host: app.internal, port: { number: ${upstreamPort} } } }]`;
}

/** A MeshConfig with `spec` (indented under `spec:`) and the test gateways' access log; start the gateway with `mesh: false`. */
export function meshConfigYaml(spec: string): string {
  return `---
apiVersion: meshgate.dev/v1alpha1
kind: MeshConfig
metadata:
  name: mesh
spec:
  ${testMeshSpec}${spec}
`;
}
