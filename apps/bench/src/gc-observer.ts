import { PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';

/** Total garbage-collection pause observed while a `GcRecorder` was open. */
export interface GcTotals {
  /** Number of GC events. */
  readonly count: number;
  /** Sum of their durations in milliseconds. */
  readonly pauseMs: number;
}

/** Records perf_hooks `gc` entries between `start()` and `stop()`. */
export class GcRecorder {
  #entries: PerformanceEntry[] = [];
  readonly #observer = new PerformanceObserver((list) => {
    this.#entries.push(...list.getEntries());
  });

  /** Starts observing. */
  start(): void {
    this.#entries = [];
    this.#observer.observe({ entryTypes: ['gc'] });
  }

  /** Stops observing and returns the totals; waits one macrotask so that queued entries arrive. */
  async stop(): Promise<GcTotals> {
    await new Promise((resolve) => setTimeout(resolve, 0));
    this.#entries.push(...this.#observer.takeRecords());
    this.#observer.disconnect();
    const pauseMs = this.#entries.reduce((sum, entry) => sum + entry.duration, 0);
    return { count: this.#entries.length, pauseMs };
  }
}

/** Runs a full collection if the process was started with `--expose-gc`. */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}
