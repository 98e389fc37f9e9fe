/**
 * The fleet's workload: multi-round questions over long documents, one document per conversation
 * (so a server cannot have a conversation's context cached unless it ran an earlier turn of it),
 * with each turn sent to the next server in turn, so that every turn after the first lands on a
 * server that did not run the one before.
 * @module
 */
import type { ChatTraceOptions } from '@mem/paged-kv/reference';
import { buildLoadTrace, type LoadTrace } from '../load/load-trace.js';

/** 8 conversations of 3 or 4 turns, each over its own document of 768 to 1,280 tokens, over 4 s. */
export const FLEET_TRACE_OPTIONS: ChatTraceOptions = Object.freeze<ChatTraceOptions>({
  seed: 11,
  conversations: 8,
  systemPrompts: 8,
  systemPromptTokens: [768, 1280],
  turns: [3, 4],
  userTokens: [16, 48],
  responseTokens: [8, 16],
  vocabSize: 127,
  firstTokenId: 32,
  durationMs: 4000,
  thinkTimeMs: [100, 300],
});

/** The trace, and for each conversation's turn the server (0 .. servers - 1) it is sent to. */
export interface FleetTrace extends LoadTrace {
  /** `server(conversation, turn)`: turn `t` of conversation `c` goes to `(c + t) % servers`. */
  readonly server: (conversation: number, turn: number) => number;
}

/** Builds the fleet's trace for `servers` servers. */
export function buildFleetTrace(servers: number, options: ChatTraceOptions = FLEET_TRACE_OPTIONS): FleetTrace {
  return { ...buildLoadTrace(options), server: (conversation, turn) => (conversation + turn) % servers };
}
