import { Counter, Histogram, Registry } from 'prom-client';
import { createIstioMetrics, istioBuckets, istioHttpLabelNames } from '../src/observability/istio-metrics.js';
import { responseFlagsLabel } from '../src/observability/response-flags-label.js';

// What counting one request costs: meshgate's cached series (what the request path does) against
// prom-client's labelled inc() and observe() with Istio's label set (what it would do otherwise).
// A benchmark: it prints, it asserts nothing. `npm run bench:metrics`.

const requests = 2_000_000;
const rounds = 5;

function perRequestNs(count: number, body: (i: number) => void): number {
  const started = performance.now();
  for (let i = 0; i < count; i++) body(i);
  return ((performance.now() - started) * 1e6) / count;
}

const ours: number[] = [];
const theirs: number[] = [];
for (let round = 0; round < rounds; round++) {
  const metrics = createIstioMetrics({ name: 'meshgate', namespace: 'default' }, () => ({ host: 'app.default.svc.cluster.local', version: 'v1' }));
  ours.push(perRequestNs(requests, (i) => metrics.request('outbound|80|v1|app.default.svc.cluster.local', undefined, 200, responseFlagsLabel(undefined), 1.3 + (i & 7), 0, 20)));

  const registry = new Registry();
  const labelNames = [...istioHttpLabelNames];
  const counter = new Counter({ name: 'requests_total', help: '-', labelNames, registers: [registry] });
  const histograms = ['duration', 'request_bytes', 'response_bytes'].map((name) => new Histogram({ name, help: '-', labelNames, buckets: [...istioBuckets], registers: [registry] }));
  const labels = Object.fromEntries(labelNames.map((name) => [name, 'unknown']));
  theirs.push(
    perRequestNs(requests / 20, (i) => {
      counter.inc(labels);
      for (const histogram of histograms) histogram.observe(labels, i & 7);
    }),
  );
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const range = (values: number[]) => `${Math.round(Math.min(...values))}-${Math.round(Math.max(...values))}`;
console.log(`| counting one request (counter + 3 histograms, Istio's ${istioHttpLabelNames.length} labels) | ns, median of ${rounds} (min-max) |`);
console.log('| --- | ---: |');
console.log(`| meshgate's cached series | ${Math.round(median(ours))} (${range(ours)}) |`);
console.log(`| prom-client labelled inc() + observe() | ${Math.round(median(theirs))} (${range(theirs)}) |`);
