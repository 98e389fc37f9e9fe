/**
 * The serving engine's counters: requests by outcome, steps, rows and tokens computed, and the time
 * to first token of the most recent requests.
 * @module
 */
import type { SchedulerStep } from '@mem/paged-kv';
import { percentile } from '@mem/app-kit/percentile';

/** Counters of a serving engine. */
export interface ServingEngineStats {
  /** Requests submitted. */
  readonly submitted: number;
  /** Requests that ran to their end. */
  readonly completed: number;
  /** Requests cancelled (client gone). */
  readonly cancelled: number;
  /** Requests that failed. */
  readonly failed: number;
  /** Requests waiting now. */
  readonly waiting: number;
  /** Requests running now. */
  readonly running: number;
  /** Steps run. */
  readonly steps: number;
  /** Tokens generated (sampled). */
  readonly tokensGenerated: number;
  /** Rows computed for prompts (and for recomputation after preemption). */
  readonly tokensPrefilled: number;
  /** Rows computed in all. */
  readonly rowsComputed: number;
  /** Largest step in rows. */
  readonly largestStep: number;
  /** Time to first token of the last 100 requests, p50, ms (NaN before any). */
  readonly ttftP50Ms: number;
}

/** How many recent requests the time-to-first-token percentile covers. */
const TTFT_WINDOW = 100;

/** What a serving engine counts as it runs; requests waiting and running are the scheduler's to tell. */
export class EngineCounters {
  /** Requests submitted. */
  submitted = 0;
  /** Requests that ran to their end. */
  completed = 0;
  /** Requests cancelled. */
  cancelled = 0;
  /** Requests that failed. */
  failed = 0;
  /** Tokens generated (sampled). */
  tokensGenerated = 0;
  #steps = 0;
  #tokensPrefilled = 0;
  #rowsComputed = 0;
  #largestStep = 0;
  readonly #recentTtft: number[] = [];

  /** Counts a computed step: its rows, and its prefill rows (every entry that is not a single decode). */
  countStep(step: SchedulerStep): void {
    this.#steps++;
    this.#rowsComputed += step.tokens;
    this.#largestStep = Math.max(this.#largestStep, step.tokens);
    for (const entry of step.entries) {
      const decode = entry.count === 1 && entry.start >= entry.request.promptLength;
      if (!decode) this.#tokensPrefilled += entry.count;
    }
  }

  /** Records a request's time to first token, in ms. */
  recordTtft(ms: number): void {
    this.#recentTtft.push(ms);
    if (this.#recentTtft.length > TTFT_WINDOW) this.#recentTtft.shift();
  }

  /** The counters, with the scheduler's `waiting` and `running` requests. */
  stats(waiting: number, running: number): ServingEngineStats {
    return {
      submitted: this.submitted,
      completed: this.completed,
      cancelled: this.cancelled,
      failed: this.failed,
      waiting,
      running,
      steps: this.#steps,
      tokensGenerated: this.tokensGenerated,
      tokensPrefilled: this.#tokensPrefilled,
      rowsComputed: this.#rowsComputed,
      largestStep: this.#largestStep,
      ttftP50Ms: percentile(this.#recentTtft, 50),
    };
  }
}
