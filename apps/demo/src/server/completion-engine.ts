/**
 * What the HTTP server needs from an engine: submit a request, hear its tokens, cancel it.
 * @module
 */

/** Why a completion ended, in OpenAI's words. */
export type FinishReason = 'length' | 'stop';

/** What a finished completion cost, for OpenAI's `usage`. */
export interface CompletionUsage {
  /** Tokens generated, a stop sequence's included. */
  readonly completionTokens: number;
  /** Prompt tokens served from the prefix cache when the request was admitted (not computed). */
  readonly cachedTokens: number;
}

/** Receives one request's tokens as the engine produces them. */
export interface CompletionListener {
  /**
   * A new token of the completion; `index` counts from 0. A token that may begin a stop sequence
   * arrives once it is clear that it does not, and a stop sequence's tokens never arrive. Called
   * from the engine's step: keep it short.
   */
  onToken(token: number, index: number): void;
  /** The completion is over; no call follows. */
  onFinish(reason: FinishReason, usage: CompletionUsage): void;
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

/** How a request samples (OpenAI's fields, validated). */
export interface SamplingSettings {
  /** 0 decodes greedily; above 0 divides the logits before the softmax (OpenAI allows up to 2). */
  readonly temperature: number;
  /** Nucleus sampling: only the most likely tokens whose probabilities add up to `topP` are drawn from. */
  readonly topP: number;
  /** Subtracted once from the logit of every token already generated. */
  readonly presencePenalty: number;
  /** Subtracted from a token's logit once per time it was generated. */
  readonly frequencyPenalty: number;
  /** Added to the logits of the token ids it names. */
  readonly logitBias: ReadonlyMap<number, number>;
  /** The generator's seed: the same seed, prompt and settings give the same completion. Without one each request draws a fresh seed. */
  readonly seed: number | undefined;
}

/** A request to complete. */
export interface CompletionInput {
  /** The prompt's byte tokens. */
  readonly promptTokens: Uint8Array;
  /** How many tokens to generate. */
  readonly maxTokens: number;
  /** How to sample. @defaultValue greedy decoding */
  readonly sampling?: SamplingSettings;
  /** Byte sequences that end the completion; none of their bytes is emitted. @defaultValue none */
  readonly stop?: readonly Uint8Array[];
}

/** An engine that completes prompts. */
export interface CompletionEngine {
  /**
   * Queues `input`; its tokens arrive on `listener`.
   * @throws HttpError 503 when the queue is full.
   */
  submit(input: CompletionInput, listener: CompletionListener): SubmittedRequest;
}
