/**
 * The fleet's workload: multi-round questions over long documents, one document per conversation
 * (so a server cannot have a conversation's context cached unless it ran an earlier turn of it),
 * with each turn sent to the next server in turn, so that every turn after the first lands on a
 * server that did not run the one before.
 * @module
 */
import type { ChatTraceOptions } from '@mem/paged-kv/reference';
import type { LoadRequest } from '../load/load-client.js';
import { buildLoadTrace } from '../load/load-trace.js';

/**
 * One conversation's options: 3 or 4 turns over a document of 768 to 1,280 tokens, starting within
 * 4 s. Conversation `c` uses seed `seed + c` and a document of its own.
 */
export const FLEET_TRACE_OPTIONS: ChatTraceOptions = Object.freeze<ChatTraceOptions>({
  seed: 11,
  conversations: 8,
  systemPrompts: 1,
  systemPromptTokens: [768, 1280],
  turns: [3, 4],
  userTokens: [16, 48],
  responseTokens: [8, 16],
  vocabSize: 127,
  firstTokenId: 32,
  durationMs: 4000,
  thinkTimeMs: [100, 300],
});

/** The conversations and, for each conversation's turn, the server (0 .. servers - 1) it is sent to. */
export interface FleetTrace {
  /** Turns of each conversation, in order. */
  readonly conversations: readonly (readonly LoadRequest[])[];
  /** Requests in all. */
  readonly requests: number;
  /** Prompt tokens in all. */
  readonly promptTokens: number;
  /** `server(conversation, turn)`: turn `t` of conversation `c` goes to `(c + t) % servers`. */
  readonly server: (conversation: number, turn: number) => number;
  /**
   * Whether `turn` runs on a server that ran none of the conversation's earlier turns (and is not
   * the first turn): the turns whose context only another server has computed.
   */
  readonly newToServer: (conversation: number, turn: number) => boolean;
}

/**
 * Builds the fleet's trace for `servers` servers: `options.conversations` conversations, each a
 * one-conversation chat trace of its own seed, so that no two share a document.
 */
export function buildFleetTrace(servers: number, options: ChatTraceOptions = FLEET_TRACE_OPTIONS): FleetTrace {
  const conversations: LoadRequest[][] = [];
  let requests = 0;
  let promptTokens = 0;
  for (let c = 0; c < (options.conversations ?? 1); c += 1) {
    const { trace, conversations: one } = buildLoadTrace({
      ...options,
      seed: options.seed + c,
      conversations: 1,
      systemPrompts: 1,
    });
    conversations.push(one[0]!);
    requests += trace.requests.length;
    promptTokens += trace.promptTokens;
  }
  const server = (conversation: number, turn: number): number => (conversation + turn) % servers;
  return { conversations, requests, promptTokens, server, newToServer: (_, turn) => turn > 0 && turn < servers };
}
