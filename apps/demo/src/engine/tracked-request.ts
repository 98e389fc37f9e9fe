/**
 * A completion as the serving engine tracks it, from its submission to its end: its listener, how
 * it samples, its stop sequences, and its sampling state (its last logits and its generated
 * tokens) in workspaces of `@mem/workspace-pool`.
 * @module
 */
import type { Workspace, WorkspacePool } from '@mem/workspace-pool';
import type { CompletionInput, CompletionListener, FinishReason } from '../server/completion-engine.js';
import { GREEDY, TokenSampler } from './token-sampler.js';
import { StopMatcher } from './stop-matcher.js';

/** One request's listener, sampler, stop sequences and sampling state. */
export class TrackedRequest {
  /** Its id (`cmpl-...`). */
  readonly id: string;
  /** When it was submitted (`performance.now()`). */
  readonly submittedAt = performance.now();
  /** Tokens sampled so far. */
  sampled = 0;
  /** Prompt tokens the prefix cache served at the first admission (undefined before it). */
  cachedTokens: number | undefined;
  #listener: CompletionListener | undefined;
  /** Tokens handed to the listener so far. */
  #emitted = 0;
  readonly #maxTokens: number;
  readonly #sampler: TokenSampler;
  readonly #stop: StopMatcher | undefined;
  /** Its last logits, `[vocabSize]` floats; from its admission to its end. */
  #logits: Workspace | undefined;
  /** Its generated tokens, `[maxTokens]` int32; from its admission to its end. */
  #output: Workspace | undefined;

  /** Tracks `input` under `id`, sampling among `allowedTokens` of `vocabSize` (all when undefined). */
  constructor(
    id: string,
    input: CompletionInput,
    listener: CompletionListener,
    vocabSize: number,
    allowedTokens: Uint8Array | undefined,
  ) {
    this.id = id;
    this.#listener = listener;
    this.#maxTokens = input.maxTokens;
    this.#sampler = new TokenSampler(input.sampling ?? GREEDY, vocabSize, allowedTokens);
    this.#stop = input.stop !== undefined && input.stop.length > 0 ? new StopMatcher(input.stop) : undefined;
  }

  /**
   * Called at each admission with the prompt tokens the prefix cache served. A request gets its
   * sampling state when the scheduler first admits it, not when it is submitted: a waiting request
   * holds no memory. It is acquired while the step's scratch is held, so it lands wherever the pool
   * finds room among the activations; when the step's scratch goes back, the requests' state stays
   * scattered, and the pool's defragmentation (on a miss, past the threshold, or when the engine
   * goes idle) compacts it. A request readmitted after a preemption keeps what it had.
   */
  admit(workspaces: WorkspacePool, vocabSize: number, cachedTokens: number): void {
    this.cachedTokens ??= cachedTokens;
    if (this.#logits !== undefined) return;
    this.#logits = workspaces.acquire(vocabSize * 4, { label: `${this.id}:logits` });
    this.#output = workspaces.acquire(this.#maxTokens * 4, { label: `${this.id}:output` });
  }

  /** Samples its next token from `logits` (its row of a step's logits) and records it. */
  sample(logits: Float32Array): number {
    // Views are re-resolved through the handles every time: a defragmentation may have moved them.
    const kept = this.#logits!.float32();
    kept.set(logits);
    const token = this.#sampler.sample(kept);
    this.#output!.int32()[this.sampled++] = token;
    return token;
  }

  /** Hands `token` to the listener, holding back what may begin one of its stop sequences. */
  deliver(token: number): void {
    if (this.#stop === undefined) this.#emit(token);
    else for (const released of this.#stop.push(token).released) this.#emit(released);
  }

  /** Tells the listener it finished (after what it held back, when it ran out of tokens), and releases its state. */
  finish(reason: FinishReason): void {
    // A completion that ran out of tokens releases what it held back for a stop sequence that never came.
    if (reason === 'length' && this.#stop !== undefined) for (const held of this.#stop.flush()) this.#emit(held);
    const listener = this.#detach();
    listener?.onFinish(reason, { completionTokens: this.sampled, cachedTokens: this.cachedTokens ?? 0 });
  }

  /** Tells the listener it failed, and releases its state. */
  fail(error: Error): void {
    this.#detach()?.onError(error);
  }

  /** Drops the listener without a word (its client went away), and releases its state. Idempotent. */
  cancel(): void {
    this.#detach();
  }

  #emit(token: number): void {
    this.#listener?.onToken(token, this.#emitted++);
  }

  /** Gives the sampling state back to the workspace pool and returns the listener, which hears nothing more. */
  #detach(): CompletionListener | undefined {
    this.#logits?.release();
    this.#output?.release();
    this.#logits = undefined;
    this.#output = undefined;
    const listener = this.#listener;
    this.#listener = undefined;
    return listener;
  }
}
