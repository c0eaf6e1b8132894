// Benchmark (not a test): how the config pipeline and the router scale to 1,000
// VirtualServices with 10 routes each. Prints the median of several runs with min-max.
//   npm run bench:config
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildSnapshot } from '../src/config/pipeline.js';
import { createRequestView } from '../src/routing/request-view.js';

const virtualServices = 1000;
const routesPerService = 10;
const runs = 5;
const lookups = 200_000;

function configYaml(): string {
  const docs = [`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge }
spec:
  servers:
    - port: { number: 8080, name: http, protocol: HTTP }
      hosts: ["*.example.com"]`];
  for (let s = 0; s < virtualServices; s++) {
    const routes = [];
    for (let r = 0; r < routesPerService - 1; r++) {
      const match =
        r % 3 === 0 ? `uri: { prefix: /api/v${r}/ }` : r % 3 === 1 ? `uri: { exact: /page/${r} }` : `uri: { regex: "/items/[0-9]+/r${r}" }`;
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
  return docs.join('\n---\n');
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function describe(values: number[], unit: string, digits = 1): string {
  return `${median(values).toFixed(digits)} ${unit} (min ${Math.min(...values).toFixed(digits)}, max ${Math.max(...values).toFixed(digits)})`;
}

const dir = await mkdtemp(path.join(tmpdir(), 'meshgate-bench-'));
await writeFile(path.join(dir, 'scale.yaml'), configYaml());

const pipelineMs: number[] = [];
let snapshot;
for (let i = 0; i < runs; i++) {
  const started = performance.now();
  const result = await buildSnapshot({ paths: [dir], defaultNamespace: 'default', generation: i + 1 });
  pipelineMs.push(performance.now() - started);
  if (result.snapshot === undefined) throw new Error(`bench config refused: ${JSON.stringify(result.issues.slice(0, 3))}`);
  snapshot = result.snapshot;
}
const listener = snapshot!.listeners[0]!;

// Requests spread over every virtual host and route kind, a tenth of them matching nothing.
const requests = Array.from({ length: 4096 }, (_, i) => {
  const service = (i * 7919) % virtualServices;
  const r = i % routesPerService;
  const url = i % 10 === 9 ? '/nothing/here' : r % 3 === 0 ? `/api/v${r}/x` : r % 3 === 1 ? `/page/${r}` : `/items/${i}/r${r}`;
  return { method: 'GET', url, headers: { host: `svc-${service}.example.com:8080`, 'x-tier': i % 2 ? 'gold' : 'silver' }, scheme: 'http' as const, port: 8080 };
});

const lookupNs: number[] = [];
let matched = 0;
for (let run = 0; run < runs; run++) {
  const started = performance.now();
  for (let i = 0; i < lookups; i++) {
    const view = createRequestView(requests[i & 4095]!);
    if (listener.routes.route(view) !== undefined) matched++;
  }
  lookupNs.push(((performance.now() - started) * 1e6) / lookups);
}

console.log(`meshgate config scale: ${virtualServices} VirtualServices x ${routesPerService} routes (${virtualServices * routesPerService} http routes, ${snapshot!.clusters.size} clusters), node ${process.version}, ${runs} runs`);
console.log(`  load + validate + compile: ${describe(pipelineMs, 'ms')}`);
console.log(`  route lookup per request (request view + virtual host + first match): ${describe(lookupNs, 'ns')}`);
console.log(`  (${((100 * matched) / (lookups * runs)).toFixed(0)}% of lookups matched a route)`);
