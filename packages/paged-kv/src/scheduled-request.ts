/**
 * The record of one request a {@link Scheduler} accepted: its KV sequence, its progress and why it
 * finished. The scheduler changes it; users read it.
 *
 * This module is browser compatible.
 * @module
 */
import type { KvSequence } from './kv-sequence.js';
import type { Scheduler } from './scheduler.js';

/** Where a {@link ScheduledRequest} is. */
export type RequestState = 'waiting' | 'running' | 'finished' | 'cancelled';

/** Why a request finished. */
export type FinishReason = 'length' | 'stop' | 'cancelled';

/** A request accepted by {@link Scheduler.submit}, with its progress. */
export class ScheduledRequest {
  /** Sequential id in submission order, from 0. */
  readonly id: number;
  /** Prompt length in tokens. */
  readonly promptLength: number;
  /** The most tokens to generate. */
  readonly maxNewTokens: number;
  /** @internal */ readonly scheduler: Scheduler;
  /** @internal */ readonly stop: Set<number>;
  /** @internal */ readonly stopSequences: readonly Uint32Array[];
  /** @internal */ output: number[] = [];
  /** The request's KV sequence: its tokens and block table (read it; the scheduler owns and releases it). */
  readonly sequence: KvSequence;
  /** @internal */ status: RequestState = 'waiting';
  /** @internal */ reason: FinishReason | null = null;
  /** @internal */ preemptionCount = 0;
  /** @internal */ admittedAt = -1;

  /** @internal */
  constructor(
    scheduler: Scheduler,
    id: number,
    sequence: KvSequence,
    maxNewTokens: number,
    stop: Set<number>,
    stopSequences: readonly Uint32Array[],
  ) {
    this.scheduler = scheduler;
    this.id = id;
    this.sequence = sequence;
    this.promptLength = sequence.tokenCount;
    this.maxNewTokens = maxNewTokens;
    this.stop = stop;
    this.stopSequences = stopSequences;
  }

  /** @internal Whether the output ends with one of the stop sequences. Cost: O(their total length). */
  endsWithStopSequence(): boolean {
    const output = this.output;
    return this.stopSequences.some((stop) => {
      const start = output.length - stop.length;
      if (start < 0) return false;
      for (let i = 0; i < stop.length; i += 1) if (output[start + i] !== stop[i]) return false;
      return true;
    });
  }

  /** `'waiting'`, `'running'`, `'finished'` or `'cancelled'`. Cost: O(1). */
  get state(): RequestState {
    return this.status;
  }

  /** The tokens generated so far (a copy). Cost: O(generated). */
  get generated(): number[] {
    return this.output.slice();
  }

  /** Why it finished, or `null` while it has not. Cost: O(1). */
  get finishReason(): FinishReason | null {
    return this.reason;
  }

  /** How many times it was preempted. Cost: O(1). */
  get preemptions(): number {
    return this.preemptionCount;
  }
}
