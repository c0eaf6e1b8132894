import test from 'ava';
import { request } from 'undici';
import { freePort } from '../helpers/free-port.js';
import { startUpstream } from '../helpers/upstream.js';
import { startGatewayProcess } from '../helpers/gateway-process.js';
import { configDir, gatewayYaml, writeConfig } from '../helpers/config-files.js';

// `meshgate run` pointed at a folder as it is found in an application's repository: Kubernetes
// workload manifests next to the Istio resources. The Istio ones are served; every other kind
// is skipped with one warning that names it.

test('a folder of mixed manifests serves the Istio routes and warns once per skipped kind', async (t) => {
  const upstream = await startUpstream('web');
  const port = await freePort();
  const dir = await configDir('mixed');
  // The usual pair in one file.
  await writeConfig(dir, 'web.yaml', `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers: [{ name: web, image: example/web:1.0 }]
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: { app: web }
  ports: [{ name: http, port: 80, targetPort: 8080 }]
`);
  // A ConfigMap whose data looks like an Istio resource: data is opaque, never read as config.
  await writeConfig(dir, 'config.yaml', `apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  gateway.yaml: |
    apiVersion: networking.istio.io/v1
    kind: Gateway
    metadata: { name: not-this-one }
    spec: { servers: [] }
`);
  await writeConfig(dir, 'istio.yaml', `${gatewayYaml(port, ['web.example.com'])}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: web
spec:
  hosts: ["web.example.com"]
  gateways: [edge]
  http:
    - match: [{ uri: { prefix: /app } }]
      route:
        - destination: { host: web }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: web
spec:
  hosts: [web.default.svc.cluster.local]
  resolution: STATIC
  ports:
    - { number: 80, name: http, protocol: HTTP, targetPort: ${upstream.port} }
  endpoints:
    - address: 127.0.0.1
`);
  const gateway = await startGatewayProcess(['--config', dir, '--no-watch']);
  t.teardown(async () => {
    await gateway.stop();
    await upstream.close();
  });

  // The short name `web` is web.default.svc.cluster.local, which the ServiceEntry declares.
  const res = await request(`http://127.0.0.1:${port}/app/page`, { headers: { host: 'web.example.com' } });
  t.is(res.statusCode, 200);
  t.like(await res.body.json(), { upstream: 'web', url: '/app/page' });
  const other = await request(`http://127.0.0.1:${port}/app/page`, { headers: { host: 'other.example.com' } });
  await other.body.dump();
  t.is(other.statusCode, 404);

  const skipped = gateway.logs.filter((l) => l.code === 'MG_ERR_CONFIG_KIND_SKIPPED');
  t.is(skipped.length, 3, skipped.map((l) => l.msg).join('\n'));
  t.true(skipped.every((l) => l.level === 'warn'));
  const kinds = skipped.map((l) => /skipped (\S+) (\S+):/.exec(l.msg)?.slice(1, 3).join(' ')).sort();
  t.deepEqual(kinds, ['apps/v1/Deployment web', 'v1/ConfigMap web-config', 'v1/Service web']);
  t.regex(skipped.find((l) => l.msg.includes('Deployment'))?.msg ?? '', /web\.yaml:2:\d+: warning MG_ERR_CONFIG_KIND_SKIPPED /);
  t.false(gateway.logs.some((l) => l.level === 'error'));
});
