import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_TOKENS, MODEL_ID, parseCompletionBody, validateCompletionBody } from './completion-request.js';
import { HttpError } from './http-error.js';

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
    expect(request).toMatchObject({ maxTokens: 3, stream: true });
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
    [{ prompt: 'x', max_tokens: null }, 'max_tokens', /must be an integer, got null/],
    [{ prompt: 'x', max_tokens: -1 }, 'max_tokens', /between 1 and 256, got -1/],
    [{ prompt: 'x', max_tokens: 0 }, 'max_tokens', /between 1 and 256, got 0/],
    [{ prompt: 'x', max_tokens: 1e9 }, 'max_tokens', /between 1 and 256, got 1000000000/],
    [{ prompt: 'x', stream: 'yes' }, 'stream', /"stream" must be a boolean/],
    [{ prompt: 'x', temperature: 0.7 }, 'temperature', /must be 0/],
    [{ prompt: 'x', model: 3 }, 'model', /"model" must be a string/],
    [{ prompt: 'x', user: {} }, 'user', /"user" must be a string/],
    [{ prompt: 'x', top_p: 1 }, 'top_p', /unknown field "top_p"/],
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

describe('completion body parsing', () => {
  it('parses JSON bytes', () => {
    expect(parseCompletionBody(bytes('{"prompt":"ab","max_tokens":2}'), limits).maxTokens).toBe(2);
  });

  it.each([
    ['{"prompt": "x"', /not valid JSON/],
    ['', /empty/],
    ['   ', /empty/],
    ['{prompt: 1}', /not valid JSON/],
  ])('rejects the malformed body %j', (text, message) => {
    expect(() => parseCompletionBody(bytes(text), limits)).toThrow(message);
  });

  it('rejects bytes that are not UTF-8', () => {
    expect(() => parseCompletionBody(Uint8Array.of(0x7b, 0xff, 0x7d), limits)).toThrow(/not valid UTF-8/);
  });
});
