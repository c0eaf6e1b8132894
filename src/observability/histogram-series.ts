import type { MetricLabels, MetricValueJson } from './metric-json.js';

// One histogram series with fixed buckets, counted on the request path without prom-client:
// its observe() hashes the label set on every call, which the hot path cannot afford. The
// buckets are turned into prom-client's JSON only when someone scrapes.

export class HistogramSeries {
  /** Per bucket, not cumulative; the last slot is +Inf. */
  // A plain array rather than a Float64Array: a worker holds three histograms per series and a
  // series per destination and status, and a typed array this size costs an ArrayBuffer and an
  // off-heap backing store besides its elements.
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = Array.from({ length: bounds.length + 1 }, () => 0);
  }

  observe(value: number): void {
    const { bounds } = this;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  /** prom-client's histogram values: cumulative `_bucket` lines with `le`, then `_sum` and `_count`. */
  toJson(name: string, labels: MetricLabels, into: MetricValueJson[]): void {
    let cumulative = 0;
    for (let i = 0; i <= this.bounds.length; i++) {
      cumulative += this.counts[i]!;
      into.push({ value: cumulative, labels: { ...labels, le: i === this.bounds.length ? '+Inf' : this.bounds[i]! }, metricName: `${name}_bucket` });
    }
    into.push({ value: this.sum, labels, metricName: `${name}_sum` });
    into.push({ value: this.count, labels, metricName: `${name}_count` });
  }
}
