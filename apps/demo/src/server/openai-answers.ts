/**
 * The shapes of OpenAI's answers, for both endpoints: a text completion (`text_completion`) and a
 * chat completion (`chat.completion`), whole or as the chunks of a stream, and the `usage` they
 * report, with `prompt_tokens_details.cached_tokens` counting the prompt tokens the prefix cache
 * served.
 * @module
 */
import type { CompletionUsage, FinishReason } from './completion-engine.js';
import { MODEL_ID } from './request-fields.js';

/** What every answer and chunk of one request repeats. */
export interface AnswerHeader {
  /** The answer's id (`cmpl-...`, `chatcmpl-...`). */
  readonly id: string;
  /** When the request arrived, in Unix seconds. */
  readonly created: number;
}

/** OpenAI's `usage` object. */
export interface UsageJson {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
  readonly prompt_tokens_details: { readonly cached_tokens: number };
}

/** The `usage` of a completion of `promptTokens` that finished with `usage`. */
export function usageJson(promptTokens: number, usage: CompletionUsage): UsageJson {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: promptTokens + usage.completionTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedTokens },
  };
}

/** How one endpoint's answers look. */
export interface AnswerFormat {
  /** The route, as counted in the HTTP metrics. */
  readonly route: string;
  /** The answer's id for the engine's request id (`cmpl-...`). */
  id(requestId: string): string;
  /** The whole answer of a request that did not stream. */
  answer(header: AnswerHeader, text: string, reason: FinishReason, usage: UsageJson): object;
  /** The chunk that opens a stream before any text, if the format has one. */
  opening(header: AnswerHeader): object | undefined;
  /** A chunk of text; with `reason`, the stream's last chunk of text. */
  chunk(header: AnswerHeader, text: string, reason: FinishReason | null): object;
  /** The chunk after the last one that carries the usage (`stream_options.include_usage`). */
  usageChunk(header: AnswerHeader, usage: UsageJson): object;
}

/** `POST /v1/completions`. */
export const TEXT_COMPLETION: AnswerFormat = {
  route: '/v1/completions',
  id: (requestId) => requestId,
  answer: (header, text, reason, usage) => ({
    ...header,
    object: 'text_completion',
    model: MODEL_ID,
    choices: [{ text, index: 0, logprobs: null, finish_reason: reason }],
    usage,
  }),
  opening: () => undefined,
  chunk: (header, text, reason) => ({
    ...header,
    object: 'text_completion',
    model: MODEL_ID,
    choices: [{ text, index: 0, logprobs: null, finish_reason: reason }],
  }),
  usageChunk: (header, usage) => ({ ...header, object: 'text_completion', model: MODEL_ID, choices: [], usage }),
};

/** `POST /v1/chat/completions`. */
export const CHAT_COMPLETION: AnswerFormat = {
  route: '/v1/chat/completions',
  // `cmpl-000001` becomes `chatcmpl-000001`, OpenAI's prefix for chat answers.
  id: (requestId) => `chat${requestId}`,
  answer: (header, text, reason, usage) => ({
    ...header,
    object: 'chat.completion',
    model: MODEL_ID,
    choices: [
      { index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: reason },
    ],
    usage,
  }),
  opening: (header) => ({
    ...header,
    object: 'chat.completion.chunk',
    model: MODEL_ID,
    choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
  }),
  chunk: (header, text, reason) => ({
    ...header,
    object: 'chat.completion.chunk',
    model: MODEL_ID,
    choices: [{ index: 0, delta: text === '' ? {} : { content: text }, logprobs: null, finish_reason: reason }],
  }),
  usageChunk: (header, usage) => ({ ...header, object: 'chat.completion.chunk', model: MODEL_ID, choices: [], usage }),
};
