// Benchmark (not a test): how the config pipeline and the router scale to 1,000
// VirtualServices with 10 routes each. Prints the median of several runs with min-max.
//   npm run bench:config
import { median } from './stats.js';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildSnapshot } from '../src/config/pipeline.js';
import { createRequestView } from '../src/routing/request-view.js';
import { loadConfig } from '../src/config/load.js';
import { validateConfig } from '../src/config/validate.js';
import { compileSnapshot } from '../src/config/compile.js';
import { scaleConfigYaml } from './config-generator.js';

const virtualServices = 1000;
const routesPerService = 10;
const runs = 5;
const lookups = 200_000;

function describe(values: number[], unit: string, digits = 1): string {
  return `${median(values).toFixed(digits)} ${unit} (min ${Math.min(...values).toFixed(digits)}, max ${Math.max(...values).toFixed(digits)})`;
}

const dir = await mkdtemp(path.join(tmpdir(), 'meshgate-bench-'));
await writeFile(path.join(dir, 'scale.yaml'), scaleConfigYaml({ gatewayPort: 8080, virtualServices, routesPerService }));

const pipelineMs: number[] = [];
let snapshot;
for (let i = 0; i < runs; i++) {
  const started = performance.now();
  const result = await buildSnapshot({ paths: [dir], defaultNamespace: 'default', generation: i + 1, certsDir: dir });
  pipelineMs.push(performance.now() - started);
  if (result.snapshot === undefined) throw new Error(`bench config refused: ${JSON.stringify(result.issues.slice(0, 3))}`);
  snapshot = result.snapshot;
}
const listener = snapshot!.listeners[0]!;

const stageMs = { load: [] as number[], validate: [] as number[], compile: [] as number[] };
for (let i = 0; i < runs; i++) {
  let started = performance.now();
  const loaded = await loadConfig([dir], { defaultNamespace: 'default' });
  stageMs.load.push(performance.now() - started);
  started = performance.now();
  const validated = validateConfig(loaded.documents);
  stageMs.validate.push(performance.now() - started);
  started = performance.now();
  compileSnapshot(validated.config, i);
  stageMs.compile.push(performance.now() - started);
}

/** Median nanoseconds per request view + route lookup, for requests over `hosts` virtual hosts. */
function lookupCost(hosts: number): number[] {
  // Every route kind is hit, and a tenth of requests fall through to the catch-all.
  const requests = Array.from({ length: 4096 }, (_, i) => {
    const service = (i * 7919) % hosts;
    const r = i % routesPerService;
    const url = i % 10 === 9 ? '/nothing/here' : r % 3 === 0 ? `/api/v${r}/x` : r % 3 === 1 ? `/page/${r}` : `/items/${i}/r${r}`;
    return { method: 'GET', url, headers: { host: `svc-${service}.example.com:8080`, 'x-tier': i % 2 ? 'gold' : 'silver' }, scheme: 'http' as const, port: 8080 };
  });
  const costs: number[] = [];
  for (let run = 0; run < runs; run++) {
    const started = performance.now();
    for (let i = 0; i < lookups; i++) {
      if (listener.routes.route(createRequestView(requests[i & 4095]!)) === undefined) throw new Error('every request has a route');
    }
    costs.push(((performance.now() - started) * 1e6) / lookups);
  }
  return costs;
}

console.log(`meshgate config scale: ${virtualServices} VirtualServices x ${routesPerService} routes (${virtualServices * routesPerService} http routes, ${snapshot!.clusters.size} clusters), node ${process.version}, ${runs} runs, median (min, max)`);
console.log(`  load + validate + compile: ${describe(pipelineMs, 'ms')}`);
console.log(`    of which load (YAML parse):     ${describe(stageMs.load, 'ms')}`);
console.log(`    of which validate:              ${describe(stageMs.validate, 'ms')}`);
console.log(`    of which compile:               ${describe(stageMs.compile, 'ms')}`);
console.log(`  route lookup per request, traffic on 1 virtual host:     ${describe(lookupCost(1), 'ns', 0)}`);
console.log(`  route lookup per request, traffic on 1,000 virtual hosts: ${describe(lookupCost(virtualServices), 'ns', 0)}`);
