import type { MetricLabels, MetricValueJson } from './metric-json.js';

// Histograms with fixed buckets, counted on the request path without prom-client: its observe()
// hashes the label set on every call, which the hot path cannot afford. The buckets are turned
// into prom-client's JSON only when someone scrapes.
//
// The histograms one series keeps (Istio's duration, request and response sizes) share one plain
// array of counts, sums and totals: a worker keeps a series per destination and status, thousands
// of them in front of many services, and an object, an array and a boxed sum per histogram cost
// about 230 bytes more per series. A plain array rather than a Float64Array, which would add an
// ArrayBuffer and an off-heap backing store.

export class HistogramSet {
  /** Per histogram: a count per bucket (not cumulative; the last is +Inf), then the sum, then the count. */
  private readonly values: number[];
  private readonly stride: number;

  constructor(
    private readonly bounds: readonly number[],
    histograms: number,
  ) {
    this.stride = bounds.length + 3;
    this.values = Array.from({ length: histograms * this.stride }, () => 0);
  }

  /** Counts `value` in histogram number `histogram`. */
  observe(histogram: number, value: number): void {
    const { bounds, values } = this;
    const start = histogram * this.stride;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    values[start + i]!++;
    values[start + bounds.length + 1]! += value;
    values[start + bounds.length + 2]!++;
  }

  /** Histogram number `histogram` as prom-client's values: cumulative `_bucket` lines with `le`, then `_sum` and `_count`. */
  toJson(histogram: number, name: string, labels: MetricLabels, into: MetricValueJson[]): void {
    const { bounds, values } = this;
    const start = histogram * this.stride;
    let cumulative = 0;
    for (let i = 0; i <= bounds.length; i++) {
      cumulative += values[start + i]!;
      into.push({ value: cumulative, labels: { ...labels, le: i === bounds.length ? '+Inf' : bounds[i]! }, metricName: `${name}_bucket` });
    }
    into.push({ value: values[start + bounds.length + 1]!, labels, metricName: `${name}_sum` });
    into.push({ value: values[start + bounds.length + 2]!, labels, metricName: `${name}_count` });
  }
}
