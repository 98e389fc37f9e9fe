/** The contract between the harness and a benchmark suite. */
import type { SampleSummary } from './statistics.js';

/** One row of the JSON report, exactly as DESIGN.md's benchmark contract gives it. */
export interface BenchResult extends SampleSummary {
  readonly suite: string;
  readonly case: string;
  readonly impl: string;
}

/** A figure that is not a time per operation (a hit rate, a GC pause, bytes wasted). */
export interface BenchFigure {
  readonly suite: string;
  readonly case: string;
  readonly impl: string;
  readonly value: number;
  readonly unit: string;
}

/**
 * One implementation of a case. `run(iterations)` performs the operation `iterations` times and
 * returns something derived from the work (the harness keeps it, so the work cannot be optimised
 * away). `setup` runs before the implementation's first sample, `teardown` after its last.
 */
export interface BenchImpl {
  readonly name: string;
  run(iterations: number): unknown;
  setup?(): void | Promise<void>;
  teardown?(): void | Promise<void>;
}

/** Options of {@link BenchContext.compare}. */
export interface CompareOptions {
  /** How many operations one call of `run(1)` performs (for batched loops). @defaultValue 1 */
  readonly opsPerIteration?: number;
  /** Samples per implementation. @defaultValue 20 quick, 40 full */
  readonly samples?: number;
  /** Target duration of one sample in milliseconds. @defaultValue 10 quick, 25 full */
  readonly sampleMs?: number;
}

/** What a suite gets from the harness. */
export interface BenchContext {
  /** Whether `--quick` was given: each suite must then finish in under a minute. */
  readonly quick: boolean;
  /** The suite's name. */
  readonly suite: string;
  /**
   * Measures every implementation of one case, interleaved round by round in the same process,
   * after calibration and warm-up, and records one result per implementation. Returns them.
   */
  compare(caseName: string, impls: readonly BenchImpl[], options?: CompareOptions): Promise<BenchResult[]>;
  /** Records a result timed by the suite itself (for example inside workers). */
  record(caseName: string, impl: string, summary: SampleSummary): BenchResult;
  /** Records a figure that is not a time per operation. */
  figure(caseName: string, impl: string, value: number, unit: string): BenchFigure;
  /** Shows progress of a long step on stderr. */
  progress(label: string, done: number, total: number): void;
}

/** A benchmark suite: a file `src/suites/<name>.suite.ts` whose default export is a `Suite`. */
export interface Suite {
  /** The name given to `--suite`. */
  readonly name: string;
  /** One line on what it measures. */
  readonly description: string;
  /** Runs the suite's cases through the context. */
  run(context: BenchContext): Promise<void>;
}
