import { afterEach, describe, expect, it } from 'vitest';
import type { KvStore } from '@mem/paged-kv';
import type { CompletionListener, CompletionUsage } from '../server/completion-engine.js';
import { DEFAULT_DEMO_CONFIG, type DemoConfig } from '../runtime/demo-config.js';
import { DemoRuntime } from '../runtime/demo-runtime.js';
import { HttpError } from '../server/http-error.js';
import { generateReference } from '../model/reference-model.js';
import { PRINTABLE_TOKENS, encodeText } from '../model/tokenizer.js';

const runtimes: DemoRuntime[] = [];
function runtime(overrides: Partial<DemoConfig> = {}): DemoRuntime {
  const created = new DemoRuntime({ ...DEFAULT_DEMO_CONFIG, ...overrides }, { log: () => {} });
  runtimes.push(created);
  return created;
}
afterEach(() => {
  for (const created of runtimes.splice(0)) created.close();
});

interface Collected {
  readonly listener: CompletionListener;
  readonly tokens: number[];
  /** The finish reason. */
  readonly done: Promise<string>;
  /** The usage, once finished. */
  usage?: CompletionUsage;
}

function collect(): Collected {
  const tokens: number[] = [];
  let resolve!: (reason: string) => void;
  let reject!: (error: Error) => void;
  const done = new Promise<string>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const collected: Collected = {
    tokens,
    done,
    listener: {
      onToken: (token) => tokens.push(token),
      onFinish: (reason, usage) => {
        collected.usage = usage;
        resolve(reason);
      },
      onError: reject,
    },
  };
  return collected;
}

/** Where `part` first occurs in `tokens`, or -1. */
function indexOfRun(tokens: readonly number[], part: readonly number[]): number {
  for (let i = 0; i + part.length <= tokens.length; i++)
    if (part.every((token, j) => tokens[i + j] === token)) return i;
  return -1;
}

async function idle(demo: DemoRuntime): Promise<void> {
  for (let i = 0; i < 200 && demo.engine.busy; i++) await new Promise((r) => setTimeout(r, 5));
}

const zeroIdle = {
  trackedRequests: 0,
  kvBlocksInUse: 0,
  kvSequences: 0,
  buffersInUse: 0,
  liveWorkspaces: 0,
  workspaceBytesInUse: 0,
  arenaGuards: 0,
};

describe('the serving engine', () => {
  it('streams the tokens the reference model generates, then finishes with length', async () => {
    const demo = runtime();
    const prompt = encodeText('Hello, paged world!');
    const { listener, tokens, done } = collect();
    const submitted = demo.engine.submit({ promptTokens: prompt, maxTokens: 12 }, listener);
    expect(submitted.id).toMatch(/^cmpl-/);
    expect(tokens).toEqual([]); // never from inside submit
    expect(await done).toBe('length');
    expect(tokens).toEqual(generateReference(demo.weights, prompt, 12, PRINTABLE_TOKENS));
    expect(demo.idleState()).toEqual(zeroIdle);
  });

  it('generates the same tokens on the WebAssembly SIMD128 kernels as on the JavaScript kernels', async () => {
    const prompts = [
      encodeText('A shared system prompt, long enough to span blocks. User: first question?'),
      encodeText('A shared system prompt, long enough to span blocks. User: second one!'),
      Uint8Array.from({ length: 600 }, (_, i) => (i * 97 + 13) % 251), // prefilled in chunks
      encodeText('x'),
    ];
    const generate = async (demo: DemoRuntime): Promise<number[][]> => {
      const runs = prompts.map((prompt) => {
        const run = collect();
        demo.engine.submit({ promptTokens: prompt, maxTokens: 48 }, run.listener);
        return run;
      });
      await Promise.all(runs.map((run) => run.done));
      return runs.map((run) => run.tokens);
    };
    const wasm = runtime();
    const js = runtime({ kernels: 'js' });
    expect((wasm.engine.store as KvStore).stats().kernel).toBe('wasm-simd128');
    expect(wasm.weights.matmulKernel).toBe('wasm-simd128');
    expect((js.engine.store as KvStore).stats().kernel).toBe('js');
    expect(js.weights.matmulKernel).toBe('js');
    const tokens = await generate(wasm);
    expect(tokens.map((run) => run.length)).toEqual([48, 48, 48, 48]);
    expect(tokens).toEqual(await generate(js));
  });

  it('serves a repeated prompt from the prefix cache and computes only its last block', async () => {
    const demo = runtime();
    const prompt = encodeText('A system prompt that is long enough to fill several KV blocks of sixteen tokens. ');
    const first = collect();
    demo.engine.submit({ promptTokens: prompt, maxTokens: 4 }, first.listener);
    await first.done;
    const prefilled = demo.engine.stats().tokensPrefilled;
    const second = collect();
    demo.engine.submit({ promptTokens: prompt, maxTokens: 4 }, second.listener);
    await second.done;
    expect(second.tokens).toEqual(first.tokens);
    expect(demo.engine.stats().tokensPrefilled - prefilled).toBeLessThanOrEqual(16);
    expect(demo.engine.kv.stats().prefixHitTokens).toBeGreaterThanOrEqual(prompt.length - 16);
    expect(first.usage).toEqual({ completionTokens: 4, cachedTokens: 0 });
    expect(second.usage).toEqual({ completionTokens: 4, cachedTokens: demo.engine.kv.stats().prefixHitTokens });
  });

  it('ends a completion at a stop sequence, emitting none of it and counting its tokens', async () => {
    const demo = runtime();
    const prompt = encodeText('Stop me in the middle');
    const reference = generateReference(demo.weights, prompt, 24, PRINTABLE_TOKENS);
    const stop = reference.slice(6, 9);
    const at = indexOfRun(reference, stop);
    const run = collect();
    demo.engine.submit({ promptTokens: prompt, maxTokens: 24, stop: [Uint8Array.from(stop)] }, run.listener);
    expect(await run.done).toBe('stop');
    expect(run.tokens).toEqual(reference.slice(0, at));
    expect(run.usage?.completionTokens).toBe(at + 3);
    expect(demo.engine.stats().completed).toBe(1);
    expect(demo.engine.scheduler.stats().finished).toBe(1);
    expect(demo.idleState()).toEqual(zeroIdle);
  });

  it('releases the held-back start of a stop sequence that never completes', async () => {
    const demo = runtime();
    const prompt = encodeText('Almost stopped');
    const reference = generateReference(demo.weights, prompt, 10, PRINTABLE_TOKENS);
    // The last two tokens begin the sequence; a byte the model never emits would complete it.
    const stop = Uint8Array.of(reference[8]!, reference[9]!, 0);
    const run = collect();
    demo.engine.submit({ promptTokens: prompt, maxTokens: 10, stop: [stop] }, run.listener);
    expect(await run.done).toBe('length');
    expect(run.tokens).toEqual(reference);
  });

  it('samples reproducibly for a seed, differently for another, and greedily at temperature 0', async () => {
    const demo = runtime();
    const prompt = encodeText('Sample me');
    const sample = async (temperature: number, seed: number): Promise<number[]> => {
      const run = collect();
      const sampling = { temperature, topP: 0.95, presencePenalty: 0, frequencyPenalty: 0, logitBias: new Map(), seed };
      demo.engine.submit({ promptTokens: prompt, maxTokens: 16, sampling }, run.listener);
      await run.done;
      return run.tokens;
    };
    const [a, b, c, greedy] = await Promise.all([sample(1, 42), sample(1, 42), sample(1, 43), sample(0, 42)]);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(greedy).toEqual(generateReference(demo.weights, prompt, 16, PRINTABLE_TOKENS));
    expect(a.every((token) => PRINTABLE_TOKENS[token] === 1)).toBe(true);
  });

  it('computes every prompt token again with prefix caching off', async () => {
    const demo = runtime({ prefixCaching: false });
    const prompt = encodeText('The same prompt twice, with nothing shared between the two requests at all.');
    for (let i = 0; i < 2; i++) {
      const run = collect();
      demo.engine.submit({ promptTokens: prompt, maxTokens: 2 }, run.listener);
      await run.done;
    }
    expect(demo.engine.stats().tokensPrefilled).toBe(2 * prompt.length);
    expect(demo.engine.kv.stats().prefixHitTokens).toBe(0);
  });

  it('cancels a running request: no more tokens, its blocks and workspaces freed', async () => {
    const demo = runtime();
    const { listener, tokens } = collect();
    let finished = false;
    const submitted = demo.engine.submit(
      { promptTokens: encodeText('cancel me while I am generating'), maxTokens: 400 },
      { ...listener, onFinish: () => (finished = true) },
    );
    while (tokens.length < 3) await new Promise((r) => setTimeout(r, 1));
    submitted.cancel();
    submitted.cancel(); // idempotent
    const count = tokens.length;
    await idle(demo);
    expect(tokens.length).toBe(count);
    expect(finished).toBe(false);
    expect(demo.engine.stats().cancelled).toBe(1);
    expect(demo.idleState()).toEqual(zeroIdle);
  });

  it('cancels a waiting request before it ever runs', async () => {
    const demo = runtime({ maxRunning: 1 });
    const first = collect();
    demo.engine.submit({ promptTokens: encodeText('first'), maxTokens: 30 }, first.listener);
    const second = collect();
    const waiting = demo.engine.submit({ promptTokens: encodeText('second'), maxTokens: 30 }, second.listener);
    waiting.cancel();
    await first.done;
    await idle(demo);
    expect(second.tokens).toEqual([]);
    expect(demo.idleState()).toEqual(zeroIdle);
  });

  it('refuses requests past the waiting limit with 503 and Retry-After', () => {
    const demo = runtime({ maxWaiting: 2 });
    const listener = collect().listener;
    demo.engine.submit({ promptTokens: encodeText('a'), maxTokens: 1 }, listener);
    demo.engine.submit({ promptTokens: encodeText('b'), maxTokens: 1 }, listener);
    try {
      demo.engine.submit({ promptTokens: encodeText('c'), maxTokens: 1 }, listener);
      expect.unreachable('the third request should be refused');
    } catch (error) {
      expect(error).toBeInstanceOf(HttpError);
      expect((error as HttpError).status).toBe(503);
      expect((error as HttpError).headers['retry-after']).toBe('1');
    }
  });

  it('answers a request that can never fit the KV cache with 400, leaving nothing behind', () => {
    const demo = runtime({ numBlocks: 4 });
    try {
      demo.engine.submit({ promptTokens: new Uint8Array(100).fill(65), maxTokens: 10 }, collect().listener);
      expect.unreachable('the request should not fit');
    } catch (error) {
      expect((error as HttpError).status).toBe(400);
      expect((error as HttpError).code).toBe('context_length_exceeded');
    }
    expect(demo.idleState()).toEqual(zeroIdle);
  });

  it('advances the arena epoch once per step and keeps step metadata there', async () => {
    const demo = runtime();
    const run = collect();
    demo.engine.submit({ promptTokens: encodeText('count my steps'), maxTokens: 5 }, run.listener);
    await run.done;
    const totals = demo.totals();
    expect(totals.steps).toBe(5);
    expect(demo.arenas.currentEpoch).toBe(5);
    expect(totals.arenaBytesPerEpoch).toBeGreaterThan(0);
    expect(totals.workspacePeakBytes).toBeGreaterThan(0);
  });

  it('refuses new requests once closed and cancels open ones', async () => {
    const demo = runtime();
    const run = collect();
    demo.engine.submit({ promptTokens: encodeText('closing'), maxTokens: 200 }, run.listener);
    demo.engine.close();
    expect(() => demo.engine.submit({ promptTokens: encodeText('late'), maxTokens: 1 }, run.listener)).toThrow(
      /shutting down/,
    );
    await idle(demo);
    expect(demo.idleState().kvSequences).toBe(0);
  });
});
