/**
 * Validation of `POST /v1/completions` bodies: every field is checked for presence, type and range,
 * and every failure is an {@link HttpError} that says which field was wrong, what it was and what
 * was expected.
 * @module
 */
import { HttpError } from './http-error.js';
import { encodeText } from '../model/tokenizer.js';

/** The id the demo's model answers to (`GET /v1/models`). */
export const MODEL_ID = 'mem-demo-byte-lm';

/** A validated completion request. */
export interface CompletionRequest {
  /** The prompt as byte tokens. */
  readonly promptTokens: Uint8Array;
  /** Number of tokens to generate. */
  readonly maxTokens: number;
  /** Whether to answer as server-sent events. */
  readonly stream: boolean;
}

/** The limits a request is checked against. */
export interface RequestLimits {
  /** Largest `max_tokens` accepted. */
  readonly maxCompletionTokens: number;
  /** Prompt plus completion tokens may not exceed this (the model's context). */
  readonly maxContext: number;
}

const KNOWN_FIELDS = new Set(['model', 'prompt', 'max_tokens', 'stream', 'temperature', 'user']);
/** OpenAI's default when `max_tokens` is absent. */
export const DEFAULT_MAX_TOKENS = 16;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  if (typeof value === 'number') return `the number ${value}`;
  return `a ${typeof value}`;
}

function parsePrompt(value: unknown): Uint8Array {
  if (value === undefined) throw new HttpError(400, 'missing required field "prompt"', { param: 'prompt' });
  if (typeof value === 'string') {
    if (value.length === 0) throw new HttpError(400, '"prompt" must not be empty', { param: 'prompt' });
    return encodeText(value);
  }
  if (Array.isArray(value)) {
    if (value.length === 0) throw new HttpError(400, '"prompt" must not be empty', { param: 'prompt' });
    const tokens = new Uint8Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const token: unknown = value[i];
      if (typeof token !== 'number' || !Number.isInteger(token) || token < 0 || token > 255) {
        throw new HttpError(
          400,
          `"prompt" as an array must hold byte tokens (integers 0-255); item ${i} is ${describe(token)}`,
          { param: 'prompt' },
        );
      }
      tokens[i] = token;
    }
    return tokens;
  }
  throw new HttpError(
    400,
    `"prompt" must be a string or an array of byte tokens (integers 0-255), got ${describe(value)}`,
    {
      param: 'prompt',
    },
  );
}

function parseMaxTokens(value: unknown, limits: RequestLimits): number {
  if (value === undefined) return DEFAULT_MAX_TOKENS;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new HttpError(400, `"max_tokens" must be an integer, got ${describe(value)}`, { param: 'max_tokens' });
  }
  if (value < 1 || value > limits.maxCompletionTokens) {
    throw new HttpError(400, `"max_tokens" must be between 1 and ${limits.maxCompletionTokens}, got ${value}`, {
      param: 'max_tokens',
    });
  }
  return value;
}

/**
 * Checks a parsed JSON body and returns the request it describes.
 * @throws HttpError 400 for a body that is not an object, an unknown field, a missing or wrong-typed
 * field, an out-of-range `max_tokens` or a prompt that does not fit the context; 404 for an
 * unknown model.
 */
export function validateCompletionBody(body: unknown, limits: RequestLimits): CompletionRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, `the body must be a JSON object, got ${describe(body)}`);
  }
  const record = body as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!KNOWN_FIELDS.has(key)) {
      throw new HttpError(400, `unknown field ${JSON.stringify(key)}; accepted: ${[...KNOWN_FIELDS].join(', ')}`, {
        param: key,
      });
    }
  }
  if (record.model !== undefined) {
    if (typeof record.model !== 'string') {
      throw new HttpError(400, `"model" must be a string, got ${describe(record.model)}`, { param: 'model' });
    }
    if (record.model !== MODEL_ID) {
      throw new HttpError(
        404,
        `the model ${JSON.stringify(record.model)} does not exist; this server serves "${MODEL_ID}"`,
        {
          param: 'model',
          code: 'model_not_found',
        },
      );
    }
  }
  if (record.stream !== undefined && typeof record.stream !== 'boolean') {
    throw new HttpError(400, `"stream" must be a boolean, got ${describe(record.stream)}`, { param: 'stream' });
  }
  if (record.temperature !== undefined && record.temperature !== 0) {
    throw new HttpError(
      400,
      `"temperature" must be 0: this server decodes greedily, got ${describe(record.temperature)}`,
      {
        param: 'temperature',
      },
    );
  }
  if (record.user !== undefined && typeof record.user !== 'string') {
    throw new HttpError(400, `"user" must be a string, got ${describe(record.user)}`, { param: 'user' });
  }
  const promptTokens = parsePrompt(record.prompt);
  const maxTokens = parseMaxTokens(record.max_tokens, limits);
  if (promptTokens.length + maxTokens > limits.maxContext) {
    throw new HttpError(
      400,
      `this model's context is ${limits.maxContext} tokens; the prompt has ${promptTokens.length} and max_tokens asks for ${maxTokens}`,
      { param: 'prompt', code: 'context_length_exceeded' },
    );
  }
  return { promptTokens, maxTokens, stream: record.stream === true };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses the raw body bytes as JSON and validates them.
 * @throws HttpError 400 for bytes that are not UTF-8 or not JSON, and whatever
 * {@link validateCompletionBody} throws.
 */
export function parseCompletionBody(bytes: Uint8Array, limits: RequestLimits): CompletionRequest {
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    throw new HttpError(400, 'the body is not valid UTF-8');
  }
  if (text.trim().length === 0) throw new HttpError(400, 'the body is empty; expected a JSON object');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, `the body is not valid JSON: ${(error as Error).message}`);
  }
  return validateCompletionBody(body, limits);
}
