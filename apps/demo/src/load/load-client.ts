/**
 * The load generator's client side: replays conversations against a server's
 * `POST /v1/completions` with streaming on, measuring time to first token per request.
 * @module
 */
import { percentile } from '@mem/app-kit/percentile';

/** One request of a replayed conversation. */
export interface LoadRequest {
  /** The prompt's byte tokens: the whole conversation so far. */
  readonly prompt: ArrayLike<number>;
  /** How many tokens to ask for. */
  readonly maxTokens: number;
  /** When to send it, in ms from the start of the replay (and not before the previous turn finished). */
  readonly arrivalMs: number;
}

/** What one replay measured on the client side. */
export interface ClientMeasurements {
  /** Requests answered with a complete stream. */
  readonly completed: number;
  /** Requests that failed (status, broken stream), with the first error message. */
  readonly failed: number;
  /** The first failure's message, if any. */
  readonly firstError: string | undefined;
  /** Prompt tokens sent. */
  readonly promptTokens: number;
  /** Completion chunks received (one per generated token). */
  readonly generatedTokens: number;
  /** Wall time of the whole replay, in seconds. */
  readonly seconds: number;
  /** Time to first token of each completed request, in milliseconds. */
  readonly ttftMs: readonly number[];
  /** Total latency of each completed request, in milliseconds. */
  readonly latencyMs: readonly number[];
}

/** Options of {@link replayConversations}. */
export interface ReplayOptions {
  /** The server, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  /**
   * Conversations; each one's requests are sent in order, each at its arrival time but never before
   * the previous one finished (its prompt holds the previous turn).
   */
  readonly conversations: readonly (readonly LoadRequest[])[];
  /** Called after each request with the count done and the total. */
  readonly onProgress?: (done: number, total: number) => void;
}

async function streamOne(
  url: string,
  request: LoadRequest,
): Promise<{ ttftMs: number; latencyMs: number; tokens: number }> {
  const started = performance.now();
  const response = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: Array.from(request.prompt), max_tokens: request.maxTokens, stream: true }),
  });
  if (!response.ok || response.body === null) {
    throw new Error(`HTTP ${response.status}: ${await response.text()}`);
  }
  let ttftMs = NaN;
  let tokens = 0;
  let done = false;
  let pending = '';
  const decoder = new TextDecoder();
  const reader = response.body.getReader();
  for (;;) {
    const { value, done: ended } = await reader.read();
    if (ended) break;
    pending += decoder.decode(value, { stream: true });
    let boundary: number;
    while ((boundary = pending.indexOf('\n\n')) >= 0) {
      const event = pending.slice(0, boundary);
      pending = pending.slice(boundary + 2);
      if (!event.startsWith('data: ')) continue;
      const data = event.slice(6);
      if (data === '[DONE]') {
        done = true;
        continue;
      }
      const parsed = JSON.parse(data) as { choices?: { text: string }[]; error?: { message: string } };
      if (parsed.error) throw new Error(parsed.error.message);
      if ((parsed.choices?.[0]?.text ?? '').length > 0) {
        if (tokens === 0) ttftMs = performance.now() - started;
        tokens++;
      }
    }
  }
  if (!done) throw new Error('the stream ended without [DONE]');
  return { ttftMs, latencyMs: performance.now() - started, tokens };
}

/**
 * Replays `conversations` against the server and measures what a client sees.
 * Cost: one HTTP request per conversation turn; conversations run concurrently.
 */
export async function replayConversations(options: ReplayOptions): Promise<ClientMeasurements> {
  const total = options.conversations.reduce((sum, turns) => sum + turns.length, 0);
  const ttftMs: number[] = [];
  const latencyMs: number[] = [];
  let completed = 0;
  let failed = 0;
  let firstError: string | undefined;
  let promptTokens = 0;
  let generatedTokens = 0;
  const started = performance.now();
  const conversation = async (turns: readonly LoadRequest[]): Promise<void> => {
    for (const request of turns) {
      const wait = started + request.arrivalMs - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      try {
        const result = await streamOne(options.url, request);
        completed++;
        ttftMs.push(result.ttftMs);
        latencyMs.push(result.latencyMs);
        generatedTokens += result.tokens;
        promptTokens += request.prompt.length;
      } catch (error) {
        failed++;
        firstError ??= (error as Error).message;
      }
      options.onProgress?.(completed + failed, total);
    }
  };
  await Promise.all(options.conversations.map(conversation));
  return {
    completed,
    failed,
    firstError,
    promptTokens,
    generatedTokens,
    seconds: (performance.now() - started) / 1000,
    ttftMs,
    latencyMs,
  };
}

/** p50 and p99 of a list of milliseconds. */
export function latencySummary(values: readonly number[]): { p50: number; p99: number } {
  return { p50: percentile(values, 50), p99: percentile(values, 99) };
}
