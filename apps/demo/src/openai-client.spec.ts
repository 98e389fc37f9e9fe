import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DEMO_CONFIG } from './runtime/demo-config.js';
import { DemoRuntime } from './runtime/demo-runtime.js';
import { startServer, type RunningServer } from './server/http-server.js';
import { MODEL_ID } from './server/request-fields.js';

// The official `openai` client against a real demo server on a free port: what any OpenAI client sees.

const run = promisify(execFile);

let runtime: DemoRuntime;
let server: RunningServer;
let client: OpenAI;

beforeAll(async () => {
  runtime = new DemoRuntime(DEFAULT_DEMO_CONFIG, { log: () => {} });
  server = await startServer(runtime, { port: 0 });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'not-checked', maxRetries: 0 });
});

afterAll(async () => {
  await server?.close();
  runtime?.close();
});

/** The fields clients send with their default or null values. */
const DEFAULTS = {
  n: 1,
  top_p: 1,
  stop: null,
  presence_penalty: 0,
  frequency_penalty: 0,
  logprobs: null,
  seed: null,
  user: 'tester',
} as const;

const SYSTEM = 'You are the demo model of mem. You answer in one short line of printable ASCII. '.repeat(3);

/** The error the client throws for `request`. */
async function failure(request: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await request;
  } catch (error) {
    expect(error).toBeInstanceOf(OpenAI.APIError);
    return error as InstanceType<typeof OpenAI.APIError>;
  }
  throw new Error('the request should have failed');
}

describe('the official openai client', () => {
  it('lists the model and retrieves it by id, with created', async () => {
    const list = await client.models.list();
    expect(list.data.map((model) => model.id)).toEqual([MODEL_ID]);
    const model = await client.models.retrieve(MODEL_ID);
    expect(model).toMatchObject({ id: MODEL_ID, object: 'model', owned_by: 'mem', created: runtime.modelCreated });
    expect(model.created).toBeGreaterThan(1_600_000_000);
    const missing = await failure(client.models.retrieve('gpt-4o'));
    expect(missing.status).toBe(404);
    expect(missing.code).toBe('model_not_found');
  });

  it('creates a completion, with the fields clients send by default', async () => {
    const completion = await client.completions.create({
      ...DEFAULTS,
      model: MODEL_ID,
      prompt: 'Hello, paged world',
      max_tokens: 12,
      temperature: 0,
    });
    expect(completion.object).toBe('text_completion');
    expect(completion.choices[0]!.finish_reason).toBe('length');
    expect(completion.choices[0]!.text).toHaveLength(12);
    expect(completion.usage).toEqual({
      prompt_tokens: 18,
      completion_tokens: 12,
      total_tokens: 30,
      prompt_tokens_details: { cached_tokens: 0 },
    });
  });

  it('streams a completion ending with a usage chunk when stream_options asks for it', async () => {
    const whole = await client.completions.create({ model: MODEL_ID, prompt: 'Stream me', max_tokens: 10 });
    const stream = await client.completions.create({
      ...DEFAULTS,
      model: MODEL_ID,
      prompt: 'Stream me',
      max_tokens: 10,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    const chunks: OpenAI.Completion[] = [];
    for await (const chunk of stream) {
      chunks.push(chunk);
      text += chunk.choices[0]?.text ?? '';
    }
    expect(text).toBe(whole.choices[0]!.text);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ prompt_tokens: 9, completion_tokens: 10, total_tokens: 19 });
    expect(chunks.slice(0, -1).every((chunk) => chunk.usage === null)).toBe(true);
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('length');
  });

  it('answers a chat, reporting the prompt tokens the prefix cache served as cached_tokens', async () => {
    const messages = [
      { role: 'system' as const, content: SYSTEM },
      { role: 'user' as const, content: 'What is a paged KV cache?' },
    ];
    const first = await client.chat.completions.create({
      ...DEFAULTS,
      model: MODEL_ID,
      messages,
      max_tokens: null,
      max_completion_tokens: 16,
      temperature: 1,
      seed: 1234,
      stream_options: null,
      parallel_tool_calls: true,
    });
    expect(first.object).toBe('chat.completion');
    expect(first.id).toMatch(/^chatcmpl-/);
    expect(first.choices[0]!.message.role).toBe('assistant');
    expect(first.choices[0]!.message.content).toMatch(/^[\x20-\x7e\n]*$/);
    expect(first.usage!.prompt_tokens_details!.cached_tokens).toBe(0);
    const second = await client.chat.completions.create({
      model: MODEL_ID,
      messages,
      max_completion_tokens: 16,
      temperature: 1,
      seed: 1234,
    });
    expect(second.choices[0]!.message.content).toBe(first.choices[0]!.message.content);
    const cached = second.usage!.prompt_tokens_details!.cached_tokens!;
    // Every whole block of the prompt but the last is served from the cache (blocks of 16 tokens).
    expect(cached).toBe(Math.floor((second.usage!.prompt_tokens - 1) / 16) * 16);
    expect(cached).toBeGreaterThan(200);
  });

  it('streams chat deltas: the role first, the text, the finish reason, then the usage', async () => {
    const messages = [{ role: 'user' as const, content: 'Count to three.' }];
    const whole = await client.chat.completions.create({ model: MODEL_ID, messages, max_tokens: 20 });
    const stream = await client.chat.completions.create({
      model: MODEL_ID,
      messages,
      max_tokens: 20,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0]!.choices[0]!.delta).toEqual({ role: 'assistant', content: '' });
    const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe(whole.choices[0]!.message.content);
    expect(chunks.every((chunk) => chunk.object === 'chat.completion.chunk' && chunk.id === chunks[0]!.id)).toBe(true);
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('length');
    const { prompt_tokens, completion_tokens, total_tokens } = whole.usage!;
    expect(chunks.at(-1)!.usage).toEqual({
      prompt_tokens,
      completion_tokens,
      total_tokens,
      // The same prompt again: all of it but its last, partial block is served from the cache.
      prompt_tokens_details: { cached_tokens: Math.floor((prompt_tokens - 1) / 16) * 16 },
    });
  });

  it('samples reproducibly for a seed, with temperature and top_p', async () => {
    const ask = (seed: number) =>
      client.chat.completions.create({
        model: MODEL_ID,
        messages: [{ role: 'user', content: 'Say something random.' }],
        max_tokens: 24,
        temperature: 1.2,
        top_p: 0.9,
        seed,
      });
    const [a, b, c] = await Promise.all([ask(7), ask(7), ask(8)]);
    expect(a.choices[0]!.message.content).toBe(b.choices[0]!.message.content);
    expect(a.choices[0]!.message.content).not.toBe(c.choices[0]!.message.content);
  });

  it('ends at a stop sequence, streamed or not, without returning it', async () => {
    const prompt = 'Once upon a time';
    const whole = await client.completions.create({ model: MODEL_ID, prompt, max_tokens: 30 });
    const text = whole.choices[0]!.text;
    const stop = text.slice(10, 13);
    const expected = text.slice(0, text.indexOf(stop));
    const stopped = await client.completions.create({ model: MODEL_ID, prompt, max_tokens: 30, stop: [stop, '@@'] });
    expect(stopped.choices[0]).toMatchObject({ text: expected, finish_reason: 'stop' });
    const stream = await client.completions.create({ model: MODEL_ID, prompt, max_tokens: 30, stop, stream: true });
    let streamed = '';
    let reason: string | null = null;
    for await (const chunk of stream) {
      streamed += chunk.choices[0]!.text;
      reason = chunk.choices[0]!.finish_reason ?? reason;
    }
    expect(streamed).toBe(expected);
    expect(reason).toBe('stop');
  });

  it('refuses what it cannot honour with a 400 naming the field', async () => {
    const messages = [{ role: 'user' as const, content: 'hi' }];
    const cases = [
      [client.chat.completions.create({ model: MODEL_ID, messages, n: 3 }), 'n'],
      [client.chat.completions.create({ model: MODEL_ID, messages, logprobs: true }), 'logprobs'],
      [client.chat.completions.create({ model: MODEL_ID, messages, presence_penalty: 5 }), 'presence_penalty'],
      [client.completions.create({ model: MODEL_ID, prompt: 'hi', echo: true }), 'echo'],
      [client.completions.create({ model: MODEL_ID, prompt: 'hi', max_tokens: 100_000 }), 'max_tokens'],
    ] as const;
    for (const [request, param] of cases) {
      const error = await failure(request);
      expect(error.status, param).toBe(400);
      expect(error.param, param).toBe(param);
      expect(error.type, param).toBe('invalid_request_error');
    }
    const model = await failure(client.chat.completions.create({ model: 'gpt-4o', messages }));
    expect(model.status).toBe(404);
  });

  it('answers a 10 MB body with 413 in OpenAI error shape, and keeps serving', async () => {
    const error = await failure(client.completions.create({ model: MODEL_ID, prompt: 'x'.repeat(10_000_000) }));
    expect(error.status).toBe(413);
    expect(error.message).toMatch(/larger than the limit of 65536 bytes/);
    expect(error.type).toBe('invalid_request_error');
    expect(error.code).toBe('request_too_large');
    const after = await client.completions.create({ model: MODEL_ID, prompt: 'still here?', max_tokens: 2 });
    expect(after.usage!.completion_tokens).toBe(2);
  });

  it('lets a client in another process, still sending its 10 MB, read the 413', async () => {
    // In this process the client may finish writing before the server answers; from another process
    // it is still sending when the 413 comes, as a remote client would be.
    const script = `
      import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import OpenAI from 'openai';
      const client = new OpenAI({ baseURL: process.argv[1], apiKey: 'unused', maxRetries: 0 });
      const results = [];
      for (let i = 0; i < 3; i++) {
        try {
          await client.completions.create({ model: '${MODEL_ID}', prompt: 'x'.repeat(10_000_000) });
          results.push('answered');
        } catch (error) {
          results.push(error.status ?? error.message);
        }
      }
      console.log(JSON.stringify(results));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script, `${server.url}/v1`], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
    });
    expect(JSON.parse(stdout)).toEqual([413, 413, 413]);
  });

  it('leaves every pool idle afterwards', async () => {
    for (let i = 0; i < 100 && runtime.idleState().buffersInUse > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(runtime.idleState()).toMatchObject({ trackedRequests: 0, kvBlocksInUse: 0, buffersInUse: 0 });
  });
});
