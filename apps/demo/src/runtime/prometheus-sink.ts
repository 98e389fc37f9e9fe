/**
 * A `@mem/types` MetricsSink that publishes into a prom-client registry: the pools' counters,
 * gauges and histograms become Prometheus series, and their collectors run before every scrape.
 * @module
 */
import { MemError, type Counter, type Gauge, type Histogram, type MetricLabels, type MetricsSink } from '@mem/types';
import { Counter as PromCounter, Gauge as PromGauge, Histogram as PromHistogram, type Registry } from 'prom-client';

type PromMetric =
  | { kind: 'counter'; metric: PromCounter<string>; labelNames: string }
  | { kind: 'gauge'; metric: PromGauge<string>; labelNames: string }
  | { kind: 'histogram'; metric: PromHistogram<string>; labelNames: string };

/** Bridges the pools' metrics into prom-client. */
export class PrometheusSink implements MetricsSink {
  readonly #registry: Registry;
  readonly #metrics = new Map<string, PromMetric>();
  readonly #collectors = new Set<() => void>();

  /** Publishes into `registry`. */
  constructor(registry: Registry) {
    this.#registry = registry;
  }

  /**
   * The counter `name` with `labels` (label names are fixed by the first use of a name), exported
   * at 0 from now on, so that a series exists before its first event (Prometheus' advice for
   * labelled counters whose labels are known).
   */
  counter(name: string, help: string, labels: MetricLabels = {}): Counter {
    const metric = this.#metric(name, help, 'counter', labels) as PromCounter<string>;
    const child = metric.labels(labels);
    child.inc(0);
    return {
      inc: (amount = 1) => child.inc(amount),
    };
  }

  /** The gauge `name` with `labels` (label names are fixed by the first use of a name). */
  gauge(name: string, help: string, labels: MetricLabels = {}): Gauge {
    const metric = this.#metric(name, help, 'gauge', labels) as PromGauge<string>;
    const child = metric.labels(labels);
    return {
      set: (value) => child.set(value),
      inc: (amount = 1) => child.inc(amount),
      dec: (amount = 1) => child.dec(amount),
    };
  }

  /**
   * The histogram `name` with `labels` (label names and buckets are fixed by the first use of a
   * name), exported at 0 from now on, like the counters.
   */
  histogram(name: string, help: string, buckets: readonly number[], labels: MetricLabels = {}): Histogram {
    const metric = this.#metric(name, help, 'histogram', labels, buckets) as PromHistogram<string>;
    metric.zero(labels);
    const child = metric.labels(labels);
    return { observe: (value) => child.observe(value) };
  }

  /** Registers a collector that runs before each scrape. */
  addCollector(collect: () => void): () => void {
    this.#collectors.add(collect);
    return () => this.#collectors.delete(collect);
  }

  /** Runs every collector (call before reading the registry). */
  collect(): void {
    for (const collect of this.#collectors) collect();
  }

  #metric(
    name: string,
    help: string,
    kind: PromMetric['kind'],
    labels: MetricLabels,
    buckets: readonly number[] = [],
  ): PromMetric['metric'] {
    const labelNames = Object.keys(labels).sort().join(',');
    const existing = this.#metrics.get(name);
    if (existing) {
      if (existing.kind !== kind)
        throw new MemError('INVALID_ARGUMENT', `metric ${name} is a ${existing.kind}, not a ${kind}`);
      if (existing.labelNames !== labelNames) {
        throw new MemError(
          'INVALID_ARGUMENT',
          `metric ${name} has labels [${existing.labelNames}], got [${labelNames}]`,
        );
      }
      return existing.metric;
    }
    const options = {
      name,
      help,
      labelNames: labelNames === '' ? [] : labelNames.split(','),
      registers: [this.#registry],
    };
    const created: PromMetric =
      kind === 'counter'
        ? { kind, metric: new PromCounter(options), labelNames }
        : kind === 'gauge'
          ? { kind, metric: new PromGauge(options), labelNames }
          : { kind, metric: new PromHistogram({ ...options, buckets: [...buckets] }), labelNames };
    this.#metrics.set(name, created);
    return created.metric;
  }
}
