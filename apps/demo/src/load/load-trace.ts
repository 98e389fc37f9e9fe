/**
 * The load generator's workload: `@mem/paged-kv`'s seeded multi-turn chat trace (the one its
 * benchmark measures prefix caching with), scaled down so a run takes seconds on a small CPU model,
 * with printable byte tokens so the prompts are valid input for the byte-level model.
 * @module
 */
import { syntheticChatTrace, type ChatTrace, type ChatTraceOptions } from '@mem/paged-kv/reference';
import type { LoadRequest } from './load-client.js';

/**
 * The default trace: 20 conversations of 2 to 4 turns over 3 shared system prompts of 256 to 640
 * tokens, all starting within 1.5 s, so the server is saturated and the run measures throughput.
 * Tokens are printable ASCII (32 to 126).
 */
export const DEFAULT_TRACE_OPTIONS: ChatTraceOptions = Object.freeze<ChatTraceOptions>({
  seed: 7,
  conversations: 20,
  systemPrompts: 3,
  systemPromptTokens: [256, 640],
  turns: [2, 4],
  userTokens: [16, 64],
  responseTokens: [8, 32],
  vocabSize: 127,
  firstTokenId: 32,
  durationMs: 1500,
  thinkTimeMs: [50, 250],
});

/** The trace and its conversations as the load client replays them. */
export interface LoadTrace {
  /** The trace itself. */
  readonly trace: ChatTrace;
  /** Its requests grouped by conversation, turns in order. */
  readonly conversations: LoadRequest[][];
}

/** Generates the trace and groups it for replay. */
export function buildLoadTrace(options: ChatTraceOptions = DEFAULT_TRACE_OPTIONS): LoadTrace {
  const trace = syntheticChatTrace(options);
  const conversations: LoadRequest[][] = [];
  for (const request of trace.requests) {
    (conversations[request.conversation] ??= [])[request.turn] = {
      prompt: request.prompt,
      maxTokens: request.response.length,
      arrivalMs: request.arrivalMs,
    };
  }
  return { trace, conversations: conversations.filter((turns) => turns !== undefined) };
}
