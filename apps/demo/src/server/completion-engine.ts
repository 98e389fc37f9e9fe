/**
 * What the HTTP server needs from an engine: submit a request, hear its tokens, cancel it.
 * @module
 */

/** Why a completion ended, in OpenAI's words. */
export type FinishReason = 'length' | 'stop';

/** Receives one request's tokens as the engine produces them. */
export interface CompletionListener {
  /** A new token; `index` counts from 0. Called from the engine's step, keep it short. */
  onToken(token: number, index: number): void;
  /** The completion is over; no call follows. */
  onFinish(reason: FinishReason): void;
  /** The engine failed the request; no call follows. */
  onError(error: Error): void;
}

/** A submitted request. */
export interface SubmittedRequest {
  /** The request's id (`cmpl-...`). */
  readonly id: string;
  /** Stops the request and frees everything it holds; nothing is called on its listener after. Idempotent. */
  cancel(): void;
}

/** A request to complete. */
export interface CompletionInput {
  /** The prompt's byte tokens. */
  readonly promptTokens: Uint8Array;
  /** How many tokens to generate. */
  readonly maxTokens: number;
}

/** An engine that completes prompts. */
export interface CompletionEngine {
  /**
   * Queues `input`; its tokens arrive on `listener`.
   * @throws HttpError 503 when the queue is full.
   */
  submit(input: CompletionInput, listener: CompletionListener): SubmittedRequest;
}
