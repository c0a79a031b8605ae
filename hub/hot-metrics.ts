import type { Counter } from 'prom-client';

/*
 * Metrics recorded on the hub's hot path (every frame, every RPC). prom-client
 * hashes and validates the label set on each `labels(...).inc()` or
 * `observe()` (0.1–0.4 µs each, several per RPC); these keep plain numbers
 * instead and give prom-client the same figures whenever it collects.
 */

/**
 * Counter increments kept as plain numbers and handed to a prom-client
 * counter when it collects (every scrape or `get()`), so readers see exactly
 * the same totals.
 */
export class CounterTally<L extends string> {
  readonly #counter: Counter<L>;
  readonly #labelNames: readonly L[];
  /** Label values joined with \0 → increments not yet given to prom-client. */
  readonly #pending = new Map<string, number>();

  constructor(counter: Counter<L>, labelNames: readonly L[]) {
    this.#counter = counter;
    this.#labelNames = labelNames;
  }

  /** For a counter with one label. */
  add1(value: string): void {
    this.#pending.set(value, (this.#pending.get(value) ?? 0) + 1);
  }

  /** For a counter with two labels. */
  add2(a: string, b: string): void {
    const key = `${a}\u0000${b}`;
    this.#pending.set(key, (this.#pending.get(key) ?? 0) + 1);
  }

  /** Moves the pending increments into the prom-client counter. */
  drain(): void {
    for (const [key, n] of this.#pending) {
      const values = this.#labelNames.length === 1 ? [key] : key.split('\u0000');
      const labels: Partial<Record<L, string>> = {};
      this.#labelNames.forEach((name, i) => {
        labels[name] = values[i] ?? '';
      });
      this.#counter.inc(labels as Record<L, string>, n);
    }
    this.#pending.clear();
  }
}

interface Series {
  /** Per-bucket (not cumulative) counts; the last slot is above the highest bound. */
  counts: Float64Array;
  sum: number;
  count: number;
}

/** What prom-client's Registry reads from a metric (the shape its own Histogram returns). */
interface MetricValue {
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string>;
  value: number;
  metricName: string;
  /** prom-client sets null on buckets and undefined on _sum/_count; kept so getMetricsAsJSON matches it exactly. */
  exemplar: null | undefined;
}
interface MetricData {
  name: string;
  help: string;
  type: 'histogram';
  values: MetricValue[];
  aggregator: 'sum';
}

/**
 * A histogram with one label, registered in a prom-client Registry next to
 * its own metrics, with the exposition of prom-client's Histogram (the same
 * `_bucket{le=…}` / `_sum` / `_count` lines). `observe` is a Map lookup, a
 * short bucket scan and three additions.
 */
export class FastHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  readonly labelNames: readonly [string];
  readonly #bounds: readonly number[];
  #series = new Map<string, Series>();

  constructor(config: { name: string; help: string; labelName: string; buckets: readonly number[]; registers: { registerMetric(metric: never): void }[] }) {
    this.name = config.name;
    this.help = config.help;
    this.labelNames = [config.labelName];
    this.#bounds = [...config.buckets].sort((a, b) => a - b);
    for (const r of config.registers) r.registerMetric(this as never);
  }

  observe(labelValue: string, value: number): void {
    // prom-client refuses these too (it throws); here a bad reading is dropped rather than failing an RPC.
    if (!Number.isFinite(value)) return;
    let s = this.#series.get(labelValue);
    if (!s) this.#series.set(labelValue, (s = { counts: new Float64Array(this.#bounds.length + 1), sum: 0, count: 0 }));
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    s.counts[i]! += 1;
    s.sum += value;
    s.count += 1;
  }

  reset(): void {
    this.#series = new Map();
  }

  /** For the text exposition: labels of the series as sharedLabels, like prom-client's Histogram. */
  async getForPromString(): Promise<MetricData> {
    const values: MetricValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const [labelValue, s] of this.#series) {
      const shared = { [this.labelNames[0]]: labelValue };
      let acc = 0;
      this.#bounds.forEach((le, i) => {
        acc += s.counts[i]!;
        values.push({ labels: { le }, sharedLabels: shared, value: acc, metricName: bucket, exemplar: null });
      });
      values.push({ labels: { le: '+Inf' }, sharedLabels: shared, value: s.count, metricName: bucket, exemplar: null });
      values.push({ labels: {}, sharedLabels: shared, value: s.sum, metricName: `${this.name}_sum`, exemplar: undefined });
      values.push({ labels: {}, sharedLabels: shared, value: s.count, metricName: `${this.name}_count`, exemplar: undefined });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** For getMetricsAsJSON: the series labels folded into each value's labels. */
  async get(): Promise<MetricData> {
    const data = await this.getForPromString();
    data.values = data.values.map(({ sharedLabels, labels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } }));
    return data;
  }
}
