// Metrics as prom-client's getMetricsAsJSON() shapes them: what a worker sends the primary, and
// what prom-client's AggregatorRegistry.aggregate() sums across workers. Plain data, so it
// crosses the cluster channel as it is.

export type MetricLabels = Readonly<Record<string, string | number>>;

export interface MetricValueJson {
  readonly value: number;
  readonly labels: MetricLabels;
  /** Set on a histogram's `_bucket`, `_sum` and `_count` lines. */
  readonly metricName?: string;
}

/** How the primary combines the workers' values of one metric (prom-client's aggregator names). */
export type MetricAggregator = 'sum' | 'max' | 'min' | 'first' | 'average' | 'omit';

export interface MetricJson {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly aggregator: MetricAggregator;
  readonly values: readonly MetricValueJson[];
}
