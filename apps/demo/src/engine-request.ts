/**
 * One request inside the engine: its prompt, the tokens generated so far, where it stands, and the
 * listener its tokens go to.
 * @module
 */
import type { CompletionListener } from './completion-engine.js';

/** Where a request stands. */
export type RequestState = 'waiting' | 'running' | 'finished' | 'cancelled';

/** A request being served. */
export class EngineRequest {
  /** The request's id (`cmpl-...`), also its key in the per-step metadata arena. */
  readonly id: string;
  /** The prompt's byte tokens. */
  readonly promptTokens: Uint8Array;
  /** How many tokens to generate. */
  readonly maxTokens: number;
  /** Every token known so far: the prompt, then each generated token. */
  readonly tokens: Int32Array;
  /** Number of tokens in {@link EngineRequest.tokens}. */
  length: number;
  /** Where the request stands. */
  state: RequestState = 'waiting';
  /** When it was submitted (`performance.now()`). */
  readonly submittedAt: number;
  /** When its first token was produced, or NaN. */
  firstTokenAt = NaN;
  /** How many times it was preempted. */
  preemptions = 0;
  /** Where its tokens go; cleared once it ends. */
  listener: CompletionListener | undefined;

  constructor(id: string, promptTokens: Uint8Array, maxTokens: number, listener: CompletionListener) {
    this.id = id;
    this.promptTokens = promptTokens;
    this.maxTokens = maxTokens;
    this.tokens = new Int32Array(promptTokens.length + maxTokens);
    this.tokens.set(promptTokens);
    this.length = promptTokens.length;
    this.listener = listener;
    this.submittedAt = performance.now();
  }

  /** How many tokens it has generated. */
  get generatedCount(): number {
    return this.length - this.promptTokens.length;
  }

  /** Whether it has generated all it asked for. */
  get done(): boolean {
    return this.generatedCount >= this.maxTokens;
  }

  /** The tokens it has generated so far. */
  generated(): Int32Array {
    return this.tokens.subarray(this.promptTokens.length, this.length);
  }
}
