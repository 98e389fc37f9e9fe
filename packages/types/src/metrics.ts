/**
 * The metrics contract: a sink of named counters, gauges and histograms with labels that an
 * application wires to Prometheus, OpenTelemetry or its logs. Pools resolve their instruments once, at construction,
 * and keep plain integer counters on their hot paths; a collector registered with
 * {@link MetricsSink.addCollector} copies them into the sink when it is scraped.
 *
 * This module is browser compatible.
 * @module
 */
import { describeValue } from './describe-value.js';
import { MemError } from './mem-error.js';
import { invalidArgument } from './validators.js';

/** Label names and values of one time series, e.g. `{ class: '4096' }`. */
export type MetricLabels = Readonly<Record<string, string>>;

/** A monotonically increasing count. */
export interface Counter {
  /** Adds `amount` (default 1, never negative). */
  inc(amount?: number): void;
}

/** A value that goes up and down. */
export interface Gauge {
  /** Sets the value. */
  set(value: number): void;
  /** Adds `amount` (default 1). */
  inc(amount?: number): void;
  /** Subtracts `amount` (default 1). */
  dec(amount?: number): void;
}

/** A distribution of observed values, counted in buckets fixed when it is created. */
export interface Histogram {
  /** Records one value. */
  observe(value: number): void;
}

/**
 * Where a pool reports its metrics. Names follow Prometheus conventions
 * (`mem_buffer_pool_hits_total`); the same name with different labels is a different series.
 */
export interface MetricsSink {
  /** Returns the counter `name` with `labels`, creating it on first use. */
  counter(name: string, help: string, labels?: MetricLabels): Counter;
  /** Returns the gauge `name` with `labels`, creating it on first use. */
  gauge(name: string, help: string, labels?: MetricLabels): Gauge;
  /**
   * Returns the histogram `name` with `labels`, creating it on first use: values are counted in
   * buckets of the upper bounds `buckets` (ascending; a last, unbounded bucket is implied), with
   * their sum and count (Prometheus' `_bucket{le}`, `_sum` and `_count` series). Optional: a pool
   * publishes no histogram to a sink without it (its `stats()` still has the counts).
   */
  histogram?(name: string, help: string, buckets: readonly number[], labels?: MetricLabels): Histogram;
  /**
   * Registers `collect` to run before each scrape, so that a pool can publish values it keeps as
   * plain numbers. Returns a function that unregisters it.
   */
  addCollector(collect: () => void): () => void;
}

const noopInstrument: Counter & Gauge & Histogram = {
  inc() {},
  dec() {},
  set() {},
  observe() {},
};

/**
 * The default sink: every instrument does nothing and collectors are never run.
 * Cost: O(1) per call, no allocation.
 */
export const noopMetrics: MetricsSink = Object.freeze({
  counter: () => noopInstrument,
  gauge: () => noopInstrument,
  histogram: () => noopInstrument,
  addCollector: () => () => {},
});

/**
 * Checks a `metrics` option: `undefined`, or a {@link MetricsSink} (an object with `counter`,
 * `gauge` and `addCollector` functions), and returns it. Cost: O(1).
 * @throws MemError INVALID_ARGUMENT naming `name` otherwise.
 *
 * @example
 * ```ts
 * import { RecordingMetricsSink, assertMetricsSink, noopMetrics } from '@mem/types';
 * const sink = assertMetricsSink(new RecordingMetricsSink(), 'options.metrics') ?? noopMetrics;
 * ```
 */
export function assertMetricsSink(value: unknown, name: string): MetricsSink | undefined {
  if (value === undefined) return undefined;
  const sink = value as Partial<MetricsSink> | null;
  if (
    typeof sink !== 'object' ||
    sink === null ||
    typeof sink.counter !== 'function' ||
    typeof sink.gauge !== 'function' ||
    typeof sink.addCollector !== 'function'
  ) {
    throw invalidArgument(name, value, 'a MetricsSink (counter, gauge and addCollector)');
  }
  return sink as MetricsSink;
}

/** The kind of a metric. */
export type MetricType = 'counter' | 'gauge' | 'histogram';

/** One value read from a {@link RecordingMetricsSink}. */
export interface MetricSample {
  /** The metric's name. */
  readonly name: string;
  /** Its help text. */
  readonly help: string;
  /**
   * Whether it is a counter, a gauge, or one series of a histogram (`<name>_bucket` with label
   * `le`, counting values up to that bound, `'+Inf'` for all; `<name>_sum`; `<name>_count`).
   */
  readonly type: MetricType;
  /** The series' labels. */
  readonly labels: MetricLabels;
  /** The current value. */
  readonly value: number;
}

class RecordedInstrument implements Counter, Gauge {
  value = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricType,
    readonly labels: MetricLabels,
  ) {}
  inc(amount = 1): void {
    if (this.type === 'counter') {
      // Also rejects non-numbers: `value += '5'` would turn the count into a string.
      if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0) {
        throw new MemError(
          'INVALID_ARGUMENT',
          `counter ${this.name} can only grow by a finite number >= 0, got inc(${describeValue(amount)})`,
        );
      }
    } else {
      this.#assertNumber('inc', amount);
    }
    this.value += amount;
  }
  dec(amount = 1): void {
    this.#assertNumber('dec', amount);
    this.value -= amount;
  }
  set(value: number): void {
    this.#assertNumber('set', value);
    this.value = value;
  }
  #assertNumber(method: string, value: unknown): void {
    if (typeof value !== 'number' || Number.isNaN(value)) {
      throw new MemError(
        'INVALID_ARGUMENT',
        `gauge ${this.name} takes a number, got ${method}(${describeValue(value)})`,
      );
    }
  }
}

function seriesKey(name: string, labels: MetricLabels): string {
  const keys = Object.keys(labels).sort();
  return `${name}{${keys.map((key) => `${key}=${JSON.stringify(labels[key])}`).join(',')}}`;
}

function assertName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) {
    throw new MemError(
      'INVALID_ARGUMENT',
      `metric name must match [a-zA-Z_:][a-zA-Z0-9_:]*, got ${describeValue(name)}`,
    );
  }
}

function assertLabels(labels: unknown): asserts labels is MetricLabels {
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) {
    throw new MemError('INVALID_ARGUMENT', `labels must be an object of strings, got ${describeValue(labels)}`);
  }
  for (const [key, value] of Object.entries(labels)) {
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(key)) {
      throw new MemError('INVALID_ARGUMENT', `label name must match [a-zA-Z_][a-zA-Z0-9_]*, got ${describeValue(key)}`);
    }
    if (typeof value !== 'string') {
      throw new MemError('INVALID_ARGUMENT', `label ${key} must be a string, got ${describeValue(value)}`);
    }
  }
}

/**
 * A sink that keeps every series in memory: for tests, for `stats`-style dumps, and as the bridge
 * an application reads from when it exports to Prometheus or OpenTelemetry.
 *
 * @example
 * ```ts
 * import { RecordingMetricsSink } from '@mem/types';
 * const sink = new RecordingMetricsSink();
 * sink.counter('mem_hits_total', 'hits', { class: '1024' }).inc();
 * sink.read('mem_hits_total', { class: '1024' }); // 1
 * ```
 */
export class RecordingMetricsSink implements MetricsSink {
  readonly #series = new Map<string, RecordedInstrument>();
  /** The type of each metric name: every series of one name has the same type. */
  readonly #types = new Map<string, MetricType>();
  readonly #collectors = new Set<() => void>();
  /** True while the collectors run: a collector that scrapes the sink it feeds would recurse. */
  #collecting = false;

  /**
   * Cost: O(labels) on first use of a series, one Map lookup after.
   * @throws MemError INVALID_ARGUMENT if the name is not a valid metric name, a label is not a string
   * (or its name is not a valid label name), or the name was registered as a gauge (with any labels).
   */
  counter(name: string, help: string, labels: MetricLabels = {}): Counter {
    return this.#instrument(name, help, 'counter', labels);
  }

  /**
   * Cost: O(labels) on first use of a series, one Map lookup after.
   * @throws MemError INVALID_ARGUMENT if the name is not a valid metric name, a label is not a string
   * (or its name is not a valid label name), or the name was registered as a counter (with any labels).
   */
  gauge(name: string, help: string, labels: MetricLabels = {}): Gauge {
    return this.#instrument(name, help, 'gauge', labels);
  }

  /**
   * Records the histogram as the series `<name>_bucket` (one per bound, labelled `le`, cumulative,
   * the last `'+Inf'`), `<name>_sum` and `<name>_count`, of type `'histogram'`.
   * Cost: O(labels + buckets) on first use of a series; O(buckets) per observation.
   * @throws MemError INVALID_ARGUMENT if the name is not a valid metric name, a label is not a
   * string (or its name is not a valid label name, or is `le`), `buckets` is not an ascending array
   * of finite numbers, an observation is not a number, or the name's series were registered as
   * counters or gauges.
   */
  histogram(name: string, help: string, buckets: readonly number[], labels: MetricLabels = {}): Histogram {
    assertName(name);
    assertLabels(labels);
    if ('le' in labels) throw new MemError('INVALID_ARGUMENT', "a histogram's labels may not include le");
    if (!Array.isArray(buckets) || buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= buckets[i - 1]!))) {
      throw new MemError(
        'INVALID_ARGUMENT',
        `buckets must be an ascending array of finite numbers, got ${describeValue(buckets)}`,
      );
    }
    for (const series of ['_bucket', '_sum', '_count']) {
      const known = this.#types.get(name + series);
      if (known !== undefined && known !== 'histogram') {
        throw new MemError('INVALID_ARGUMENT', `metric ${name}${series} is a ${known}, not a histogram`);
      }
    }
    const bounds = [...buckets, Infinity];
    const counts = bounds.map((bound) =>
      this.#instrument(`${name}_bucket`, help, 'histogram', {
        ...labels,
        le: bound === Infinity ? '+Inf' : String(bound),
      }),
    );
    const sum = this.#instrument(`${name}_sum`, help, 'histogram', labels);
    const count = this.#instrument(`${name}_count`, help, 'histogram', labels);
    return {
      observe(value: number): void {
        if (typeof value !== 'number' || Number.isNaN(value)) {
          throw new MemError('INVALID_ARGUMENT', `histogram ${name} observes numbers, got ${describeValue(value)}`);
        }
        for (let i = 0; i < bounds.length; i += 1) if (value <= bounds[i]!) counts[i]!.value += 1;
        sum.value += value;
        count.value += 1;
      },
    };
  }

  /**
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT if `collect` is not a function.
   */
  addCollector(collect: () => void): () => void {
    if (typeof collect !== 'function') {
      throw new MemError('INVALID_ARGUMENT', `collect must be a function, got ${describeValue(collect)}`);
    }
    this.#collectors.add(collect);
    return () => this.#collectors.delete(collect);
  }

  /**
   * Runs the collectors and returns every series. The collectors that run are those registered
   * when the call starts: one that a collector adds runs from the next scrape on, and one that a
   * collector removes still runs this time. A collector may create and update instruments and add
   * or remove collectors; it may not scrape the sink it feeds.
   * Cost: O(collectors + series).
   * @throws MemError IN_USE if called from a collector of this sink.
   * @throws whatever a collector throws; the collectors after it do not run, and the sink stays usable.
   */
  collect(): MetricSample[] {
    this.#runCollectors('collect');
    return [...this.#series.values()].map(({ name, help, type, labels, value }) => ({
      name,
      help,
      type,
      labels,
      value,
    }));
  }

  /**
   * Runs the collectors and returns the value of one series, or `undefined` if it does not exist.
   * Cost: O(collectors).
   * @throws MemError INVALID_ARGUMENT if `labels` is not an object of strings.
   * @throws MemError IN_USE if called from a collector of this sink.
   * @throws whatever a collector throws, as {@link RecordingMetricsSink.collect} does.
   */
  read(name: string, labels: MetricLabels = {}): number | undefined {
    assertLabels(labels);
    this.#runCollectors('read');
    return this.#series.get(seriesKey(name, labels))?.value;
  }

  #runCollectors(method: string): void {
    if (this.#collecting) {
      throw new MemError(
        'IN_USE',
        `${method}() was called from a collector of the same sink; a collector only updates instruments`,
      );
    }
    this.#collecting = true;
    try {
      for (const collect of [...this.#collectors]) collect();
    } finally {
      this.#collecting = false;
    }
  }

  #instrument(name: string, help: string, type: MetricType, labels: MetricLabels): RecordedInstrument {
    assertName(name);
    assertLabels(labels);
    // The type belongs to the name, not to one series: `x{a="1"}` cannot be a gauge if `x` is a counter.
    const known = this.#types.get(name);
    if (known !== undefined && known !== type) {
      throw new MemError('INVALID_ARGUMENT', `metric ${name} is a ${known}, not a ${type}`);
    }
    const key = seriesKey(name, labels);
    const existing = this.#series.get(key);
    if (existing) return existing;
    const created = new RecordedInstrument(name, help, type, Object.freeze({ ...labels }));
    this.#series.set(key, created);
    this.#types.set(name, type);
    return created;
  }
}

/**
 * Returns a function that publishes a running total kept elsewhere (a plain integer on a hot
 * path) into `counter` by adding what grew since the last call. Use it inside a collector.
 * Cost: O(1) per call.
 * @throws never; a total that went down (after a reset) adds nothing, and growth after the reset
 * is counted from the lower total; a total that is not a finite number is ignored.
 *
 * @example
 * ```ts
 * import { RecordingMetricsSink, mirrorCounter } from '@mem/types';
 * const sink = new RecordingMetricsSink();
 * let hits = 0;
 * const publishHits = mirrorCounter(sink.counter('mem_hits_total', 'hits'));
 * sink.addCollector(() => publishHits(hits));
 * hits += 3;
 * sink.read('mem_hits_total'); // 3
 * ```
 */
export function mirrorCounter(counter: Counter): (total: number) => void {
  let published = 0;
  return (total) => {
    if (typeof total !== 'number' || !Number.isFinite(total)) return; // nothing sensible to publish
    if (total > published) {
      counter.inc(total - published);
      published = total;
    } else if (total < published) {
      // The source was reset: count what it gains from here on, not only what passes the old high.
      published = total;
    }
  };
}
