import { mkdtemp, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

// Test configs live in a fresh temp folder each; writes are atomic (write + rename) as editors
// and Kubernetes volume updates are, so a watcher never reads half a file.

export async function configDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(tmpdir(), `meshgate-${prefix}-`));
}

export async function writeConfig(dir: string, name: string, yaml: string): Promise<string> {
  const file = path.join(dir, name);
  const temp = path.join(dir, `.${name}.tmp`);
  await writeFile(temp, yaml);
  await rename(temp, file);
  return file;
}

/** The Gateway `edge` with one plain HTTP server on `port` for `hosts`. */
export function gatewayYaml(port: number, hosts: readonly string[] = ['*']): string {
  return gatewayWithServersYaml(`    - port: { number: ${port}, name: http, protocol: HTTP }
      hosts: [${hosts.map((h) => JSON.stringify(h)).join(', ')}]
`);
}

/** A Gateway (`edge` unless named) with these `servers` entries (YAML list items, each line ending in a newline). */
export function gatewayWithServersYaml(servers: string, name = 'edge'): string {
  return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: ${name}
spec:
  servers:
${servers}`;
}

/** A Gateway on `port` and one VirtualService sending every request on `host` to 127.0.0.1:`upstreamPort`. */
export function singleRouteConfig(options: { port: number; upstreamPort: number; host?: string; extraRoute?: string }): string {
  return `${gatewayYaml(options.port)}---
${appRouteYaml(options)}`;
}

/** The VirtualService `app` on Gateway `edge`: every request on `host` to the ServiceEntry app.internal, 127.0.0.1:`upstreamPort`. */
export function appRouteYaml(options: { upstreamPort: number; host?: string; extraRoute?: string }): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: app
spec:
  hosts: ["${options.host ?? '*'}"]
  gateways: [edge]
  http:${options.extraRoute ?? ''}
    - route:
        - destination:
            host: app.internal
            port: { number: ${options.upstreamPort} }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: app
spec:
  hosts: [app.internal]
  resolution: STATIC
  ports:
    - { number: ${options.upstreamPort}, name: http, protocol: HTTP }
  endpoints:
    - address: 127.0.0.1
`;
}

/** A STATIC ServiceEntry `NAME.internal` with one endpoint, 127.0.0.1:`port` (a YAML document, `---` first). */
export function loopbackServiceEntryYaml(name: string, port: number, protocol = 'TCP'): string {
  return `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ${name}
spec:
  hosts: [${name}.internal]
  resolution: STATIC
  ports: [{ number: ${port}, name: ${protocol.toLowerCase()}, protocol: ${protocol} }]
  endpoints: [{ address: 127.0.0.1 }]
`;
}
