import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_TOKENS, validateCompletionBody } from './completion-request.js';
import { HttpError } from './http-error.js';
import { MODEL_ID } from './request-fields.js';
import { parseJsonBody } from './request-body.js';

const limits = { maxCompletionTokens: 256, maxContext: 1024 };
const bytes = (text: string) => new TextEncoder().encode(text);

function rejection(body: unknown): HttpError {
  try {
    validateCompletionBody(body, limits);
  } catch (error) {
    expect(error).toBeInstanceOf(HttpError);
    return error as HttpError;
  }
  throw new Error(`expected ${JSON.stringify(body)} to be rejected`);
}

describe('completion request validation', () => {
  it('accepts a text prompt with defaults', () => {
    const request = validateCompletionBody({ prompt: 'hi' }, limits);
    expect([...request.promptTokens]).toEqual([104, 105]);
    expect(request.maxTokens).toBe(DEFAULT_MAX_TOKENS);
    expect(request.stream).toBe(false);
  });

  it('accepts a prompt of byte tokens, the served model, stream and temperature 0', () => {
    const request = validateCompletionBody(
      { model: MODEL_ID, prompt: [0, 255, 7], max_tokens: 3, stream: true, temperature: 0, user: 'u' },
      limits,
    );
    expect([...request.promptTokens]).toEqual([0, 255, 7]);
    expect(request).toMatchObject({ maxTokens: 3, stream: true, includeUsage: false });
  });

  it('accepts the fields clients send with their default or null values', () => {
    const request = validateCompletionBody(
      {
        prompt: 'hi',
        n: 1,
        best_of: 1,
        echo: false,
        suffix: null,
        logprobs: null,
        top_p: 1,
        temperature: 1,
        stop: null,
        presence_penalty: 0,
        frequency_penalty: 0,
        logit_bias: null,
        seed: null,
        max_tokens: null,
        stream: null,
        stream_options: null,
        user: null,
      },
      limits,
    );
    expect(request.maxTokens).toBe(DEFAULT_MAX_TOKENS);
    expect(request.sampling).toMatchObject({ temperature: 1, topP: 1, presencePenalty: 0, seed: undefined });
    expect(request.stop).toEqual([]);
  });

  it('reads sampling, stop sequences and stream options', () => {
    const request = validateCompletionBody(
      {
        prompt: 'hi',
        temperature: 0.7,
        top_p: 0.9,
        seed: 2 ** 40 + 5,
        presence_penalty: 0.5,
        frequency_penalty: -1,
        logit_bias: { '65': 5, '10': -100 },
        stop: ['\n\n', 'END'],
        stream: true,
        stream_options: { include_usage: true },
      },
      limits,
    );
    expect(request.sampling).toEqual({
      temperature: 0.7,
      topP: 0.9,
      seed: 5,
      presencePenalty: 0.5,
      frequencyPenalty: -1,
      logitBias: new Map([
        [65, 5],
        [10, -100],
      ]),
    });
    expect(request.stop.map((stop) => [...stop])).toEqual([
      [10, 10],
      [69, 78, 68],
    ]);
    expect(validateCompletionBody({ prompt: 'x', stop: 'END' }, limits).stop).toHaveLength(1);
    expect(request.includeUsage).toBe(true);
  });

  it.each([
    [null, /JSON object, got null/],
    [[1, 2], /JSON object, got an array/],
    ['prompt', /JSON object, got the string/],
    [42, /JSON object, got the number 42/],
  ])('rejects the body %j that is not an object', (body, message) => {
    const error = rejection(body);
    expect(error.status).toBe(400);
    expect(error.message).toMatch(message);
  });

  it.each([
    [{}, 'prompt', /missing required field "prompt"/],
    [{ prompt: '' }, 'prompt', /must not be empty/],
    [{ prompt: [] }, 'prompt', /must not be empty/],
    [{ prompt: 5 }, 'prompt', /string or an array of byte tokens/],
    [{ prompt: ['a', 'b'] }, 'prompt', /item 0 is the string "a"/],
    [{ prompt: [1, 256] }, 'prompt', /item 1 is the number 256/],
    [{ prompt: [1, -1] }, 'prompt', /item 1 is the number -1/],
    [{ prompt: [1.5] }, 'prompt', /item 0 is the number 1.5/],
    [{ prompt: 'x', max_tokens: '5' }, 'max_tokens', /must be an integer, got the string "5"/],
    [{ prompt: 'x', max_tokens: 2.5 }, 'max_tokens', /must be an integer/],
    [{ prompt: 'x', max_tokens: -1 }, 'max_tokens', /between 1 and 256, got -1/],
    [{ prompt: 'x', max_tokens: 0 }, 'max_tokens', /between 1 and 256, got 0/],
    [{ prompt: 'x', max_tokens: 1e9 }, 'max_tokens', /between 1 and 256, got 1000000000/],
    [{ prompt: 'x', stream: 'yes' }, 'stream', /"stream" must be a boolean/],
    [{ prompt: 'x', temperature: 2.5 }, 'temperature', /between 0 and 2, got the number 2.5/],
    [{ prompt: 'x', temperature: '1' }, 'temperature', /between 0 and 2, got the string "1"/],
    [{ prompt: 'x', top_p: 1.5 }, 'top_p', /between 0 and 1/],
    [{ prompt: 'x', presence_penalty: 3 }, 'presence_penalty', /between -2 and 2/],
    [{ prompt: 'x', frequency_penalty: -2.5 }, 'frequency_penalty', /between -2 and 2/],
    [{ prompt: 'x', seed: 1.5 }, 'seed', /"seed" must be an integer/],
    [{ prompt: 'x', stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop', /up to 4 strings/],
    [{ prompt: 'x', stop: [''] }, 'stop', /item 0 must be a non-empty string/],
    [{ prompt: 'x', stop: 7 }, 'stop', /a string or an array/],
    [{ prompt: 'x', logit_bias: { '256': 1 } }, 'logit_bias', /token ids 0-255/],
    [{ prompt: 'x', logit_bias: { '65': 101 } }, 'logit_bias', /between -100 and 100/],
    [{ prompt: 'x', n: 3 }, 'n', /"n" 3 is not supported: this server returns one choice/],
    [{ prompt: 'x', best_of: 2 }, 'best_of', /not supported/],
    [{ prompt: 'x', echo: true }, 'echo', /not supported/],
    [{ prompt: 'x', logprobs: 2 }, 'logprobs', /not supported/],
    [{ prompt: 'x', suffix: 'end' }, 'suffix', /not supported/],
    [{ prompt: 'x', stream_options: { include_usage: true } }, 'stream_options', /only allowed when "stream" is true/],
    [
      { prompt: 'x', stream: true, stream_options: { include_usage: 1 } },
      'stream_options.include_usage',
      /must be a boolean/,
    ],
    [{ prompt: 'x', stream: true, stream_options: { other: 1 } }, 'stream_options.other', /unknown field/],
    [{ prompt: 'x', model: 3 }, 'model', /"model" must be a string/],
    [{ prompt: 'x', user: {} }, 'user', /"user" must be a string/],
    [{ prompt: 'x', tools: [] }, 'tools', /unknown field "tools"/],
  ])('rejects %j with a 400 naming %s', (body, param, message) => {
    const error = rejection(body);
    expect(error.status).toBe(400);
    expect(error.param).toBe(param);
    expect(error.message).toMatch(message);
    expect(error.toJSON().error.type).toBe('invalid_request_error');
  });

  it('answers an unknown model with 404 model_not_found', () => {
    const error = rejection({ prompt: 'x', model: 'gpt-4' });
    expect(error.status).toBe(404);
    expect(error.code).toBe('model_not_found');
  });

  it('rejects a prompt that with max_tokens does not fit the context', () => {
    const error = rejection({ prompt: 'x'.repeat(1000), max_tokens: 100 });
    expect(error.status).toBe(400);
    expect(error.code).toBe('context_length_exceeded');
    expect(error.message).toMatch(/context is 1024 tokens; the prompt has 1000 and max_tokens asks for 100/);
  });
});

describe('body parsing', () => {
  it('parses JSON bytes', () => {
    expect(parseJsonBody(bytes('{"prompt":"ab","max_tokens":2}'))).toEqual({ prompt: 'ab', max_tokens: 2 });
  });

  it.each([
    ['{"prompt": "x"', /not valid JSON/],
    ['', /empty/],
    ['   ', /empty/],
    ['{prompt: 1}', /not valid JSON/],
  ])('rejects the malformed body %j', (text, message) => {
    expect(() => parseJsonBody(bytes(text))).toThrow(message);
  });

  it('rejects bytes that are not UTF-8', () => {
    expect(() => parseJsonBody(Uint8Array.of(0x7b, 0xff, 0x7d))).toThrow(/not valid UTF-8/);
  });
});
