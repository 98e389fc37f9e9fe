/**
 * A deterministic, seeded multi-turn chat workload: the trace the `paged-kv` benchmark measures
 * prefix caching with, and that a load generator can replay against a server.
 *
 * Shape: a few shared system prompts (256 to 1,024 tokens by default); conversations that each
 * pick one system prompt and run several turns; every request carries the whole conversation so
 * far (system prompt, then each earlier user message and assistant response, then the new user
 * message), and the response the "model" gives is part of the trace, so that the next turn's
 * prompt contains it exactly. Token ids are random in `[firstTokenId, vocabSize)`.
 *
 * Timing: conversation starts are spread uniformly over `durationMs`; each later turn arrives
 * `thinkTimeMs` after the previous one. A turn must not be sent before the previous turn of its
 * conversation finished (its prompt contains that turn's response): `previousId` names it.
 *
 * This module is browser compatible.
 * @module
 */
import { assertInteger, assertOptions, invalidArgument } from '@mem/types';

/** An inclusive integer range `[min, max]`. */
export type IntRange = readonly [min: number, max: number];

/** Options of {@link syntheticChatTrace}. Every field but `seed` has a default. */
export interface ChatTraceOptions {
  /** The seed: the same options give the same trace, in every runtime. */
  readonly seed: number;
  /** Conversations. @defaultValue 48 */
  readonly conversations?: number;
  /** Distinct shared system prompts. @defaultValue 4 */
  readonly systemPrompts?: number;
  /** Length of each system prompt. @defaultValue [256, 1024] */
  readonly systemPromptTokens?: IntRange;
  /** Turns per conversation. @defaultValue [2, 6] */
  readonly turns?: IntRange;
  /** Length of a user message. @defaultValue [16, 160] */
  readonly userTokens?: IntRange;
  /** Length of an assistant response. @defaultValue [16, 256] */
  readonly responseTokens?: IntRange;
  /** Token ids are below this. @defaultValue 32000 */
  readonly vocabSize?: number;
  /** Lowest token id used (ids below are left for special tokens). @defaultValue 4 */
  readonly firstTokenId?: number;
  /** Conversations start uniformly within this window. @defaultValue 10000 */
  readonly durationMs?: number;
  /** Delay between a turn and the next of the same conversation. @defaultValue [500, 3000] */
  readonly thinkTimeMs?: IntRange;
}

/** One request of a {@link ChatTrace}. */
export interface ChatTraceRequest {
  /** Index in `ChatTrace.requests` (which is sorted by arrival). */
  readonly id: number;
  /** The conversation, `0 .. conversations - 1`. */
  readonly conversation: number;
  /** The turn within it, from 0. */
  readonly turn: number;
  /** Which system prompt the conversation uses. */
  readonly systemPrompt: number;
  /** The whole conversation so far, ending with the new user message. */
  readonly prompt: Uint32Array;
  /** The tokens the model answers with (generate exactly these: `maxNewTokens = response.length`). */
  readonly response: Uint32Array;
  /** When it arrives, in milliseconds from the trace start. */
  readonly arrivalMs: number;
  /** The id of the previous turn of the conversation, which must finish first; -1 for turn 0. */
  readonly previousId: number;
}

/** A trace made by {@link syntheticChatTrace}. */
export interface ChatTrace {
  /** The requests, sorted by arrival time (ties by conversation). */
  readonly requests: readonly ChatTraceRequest[];
  /** The shared system prompts. */
  readonly systemPrompts: readonly Uint32Array[];
  /** Sum of prompt lengths. */
  readonly promptTokens: number;
  /** Sum of response lengths. */
  readonly responseTokens: number;
  /** The longest prompt plus response (the longest sequence a request reaches). */
  readonly maxSequenceTokens: number;
}

/** sfc32: a small, fast, well-tested 32-bit generator; deterministic across runtimes. */
function random32(seed: number): () => number {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i += 1) next();
  return next;
}

function range(value: unknown, name: string, fallback: IntRange, min: number): IntRange {
  if (value === undefined) return fallback;
  if (!Array.isArray(value) || value.length !== 2) {
    throw invalidArgument(name, value, 'a [min, max] pair');
  }
  const low = assertInteger(value[0], `${name}[0]`, { min, max: 1 << 24 });
  const high = assertInteger(value[1], `${name}[1]`, { min: low, max: 1 << 24 });
  return [low, high];
}

/**
 * Generates a deterministic multi-turn chat trace from `options.seed`.
 * Cost: O(total prompt tokens) time and memory (each request holds its own prompt array).
 * @throws MemError INVALID_ARGUMENT if an option is out of range (seed: an integer in [0, 2^32)).
 *
 * @example
 * ```ts
 * import { syntheticChatTrace } from '@mem/paged-kv/reference';
 * const trace = syntheticChatTrace({ seed: 1, conversations: 4 });
 * for (const request of trace.requests) {
 *   // send request.prompt with maxNewTokens = request.response.length, after request.previousId finished
 * }
 * ```
 */
export function syntheticChatTrace(options: ChatTraceOptions): ChatTrace {
  if (options === undefined) throw invalidArgument('options', options, 'an object with a seed');
  const opts = assertOptions<ChatTraceOptions>(options, 'options');
  const seed = assertInteger(opts.seed, 'options.seed', { min: 0, max: 0xffffffff });
  const conversations =
    opts.conversations === undefined
      ? 48
      : assertInteger(opts.conversations, 'options.conversations', { min: 1, max: 1 << 20 });
  const systemCount =
    opts.systemPrompts === undefined
      ? 4
      : assertInteger(opts.systemPrompts, 'options.systemPrompts', { min: 1, max: 1 << 16 });
  const systemTokens = range(opts.systemPromptTokens, 'options.systemPromptTokens', [256, 1024], 0);
  const turns = range(opts.turns, 'options.turns', [2, 6], 1);
  const userTokens = range(opts.userTokens, 'options.userTokens', [16, 160], 1);
  const responseTokens = range(opts.responseTokens, 'options.responseTokens', [16, 256], 1);
  const firstTokenId =
    opts.firstTokenId === undefined
      ? 4
      : assertInteger(opts.firstTokenId, 'options.firstTokenId', { min: 0, max: 0xfffffffe });
  const vocabSize =
    opts.vocabSize === undefined
      ? 32000
      : assertInteger(opts.vocabSize, 'options.vocabSize', { min: firstTokenId + 1, max: 0x100000000 });
  const durationMs =
    opts.durationMs === undefined
      ? 10000
      : assertInteger(opts.durationMs, 'options.durationMs', { min: 0, max: 2 ** 40 });
  const thinkTime = range(opts.thinkTimeMs, 'options.thinkTimeMs', [500, 3000], 0);

  const next = random32(seed);
  const between = ([low, high]: IntRange): number => low + Math.floor((next() / 0x100000000) * (high - low + 1));
  const tokens = (count: number): Uint32Array => {
    const out = new Uint32Array(count);
    const span = vocabSize - firstTokenId;
    for (let i = 0; i < count; i += 1) out[i] = firstTokenId + Math.floor((next() / 0x100000000) * span);
    return out;
  };

  const systemPrompts = Array.from({ length: systemCount }, () => tokens(between(systemTokens)));
  type Draft = Omit<ChatTraceRequest, 'id' | 'previousId'> & { previous: Draft | null };
  const drafts: Draft[] = [];
  for (let conversation = 0; conversation < conversations; conversation += 1) {
    const systemPrompt = Math.floor((next() / 0x100000000) * systemCount);
    let history: Uint32Array = systemPrompts[systemPrompt]!;
    let arrivalMs = Math.floor((next() / 0x100000000) * (durationMs + 1));
    const turnCount = between(turns);
    let previous: Draft | null = null;
    for (let turn = 0; turn < turnCount; turn += 1) {
      const user = tokens(between(userTokens));
      const prompt = new Uint32Array(history.length + user.length);
      prompt.set(history);
      prompt.set(user, history.length);
      const response = tokens(between(responseTokens));
      const draft: Draft = { conversation, turn, systemPrompt, prompt, response, arrivalMs, previous };
      drafts.push(draft);
      history = new Uint32Array(prompt.length + response.length);
      history.set(prompt);
      history.set(response, prompt.length);
      previous = draft;
      arrivalMs += between(thinkTime);
    }
  }
  drafts.sort((a, b) => a.arrivalMs - b.arrivalMs || a.conversation - b.conversation || a.turn - b.turn);
  const ids = new Map<Draft, number>(drafts.map((draft, id) => [draft, id]));
  const requests = drafts.map(({ previous, ...rest }, id): ChatTraceRequest => ({
    ...rest,
    id,
    previousId: previous ? ids.get(previous)! : -1,
  }));
  let promptTokens = 0;
  let responseTotal = 0;
  let maxSequenceTokens = 0;
  for (const request of requests) {
    promptTokens += request.prompt.length;
    responseTotal += request.response.length;
    maxSequenceTokens = Math.max(maxSequenceTokens, request.prompt.length + request.response.length);
  }
  return { requests, systemPrompts, promptTokens, responseTokens: responseTotal, maxSequenceTokens };
}
