/**
 * The request fields both OpenAI endpoints share (`/v1/completions` and `/v1/chat/completions`):
 * the model, `max_tokens`, streaming and its options, sampling (`temperature`, `top_p`, `seed`,
 * penalties, `logit_bias`) and `stop`. Clients send many of them with their default or a null
 * value: those are accepted; a value the server honours is honoured; a value it cannot honour
 * (`n: 3`) is refused with a 400 that names the field, never silently ignored.
 * @module
 */
import type { SamplingSettings } from './completion-engine.js';
import { HttpError } from './http-error.js';
import { BYTE_TOKENS, encodeText } from '../model/tokenizer.js';

/** The id the demo's model answers to (`GET /v1/models`). */
export const MODEL_ID = 'mem-demo-byte-lm';

/** The most stop sequences a request may give (OpenAI's limit). */
export const MAX_STOP_SEQUENCES = 4;

/** The limits a request is checked against. */
export interface RequestLimits {
  /** Largest `max_tokens` accepted. */
  readonly maxCompletionTokens: number;
  /** Prompt plus completion tokens may not exceed this (the model's context). */
  readonly maxContext: number;
}

/** A validated request to either endpoint. */
export interface GenerationRequest {
  /** The prompt as byte tokens (for a chat: its messages rendered through the chat template). */
  readonly promptTokens: Uint8Array;
  /** Number of tokens to generate at most. */
  readonly maxTokens: number;
  /** Whether to answer as server-sent events. */
  readonly stream: boolean;
  /** Whether a stream ends with a chunk that carries `usage` (`stream_options.include_usage`). */
  readonly includeUsage: boolean;
  /** How to sample. */
  readonly sampling: SamplingSettings;
  /** Byte sequences that end the completion. */
  readonly stop: readonly Uint8Array[];
}

/** A JSON object's fields. */
export type Fields = Readonly<Record<string, unknown>>;

/** How a value is named in an error message. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  if (typeof value === 'number') return `the number ${value}`;
  return `a ${typeof value}`;
}

/** A 400 about `param`. */
export function invalid(param: string, message: string, code?: string): HttpError {
  return new HttpError(400, message, code === undefined ? { param } : { param, code });
}

/**
 * Checks that `value` is a JSON object of `known` fields only; `name` is the object's path in the
 * request (`''` for the body itself, `messages[0]`, ...), which prefixes the field in errors.
 */
export function checkFields(value: unknown, known: ReadonlySet<string>, name = ''): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const what = name === '' ? 'the body' : `"${name}"`;
    throw new HttpError(
      400,
      `${what} must be a JSON object, got ${describe(value)}`,
      name === '' ? {} : { param: name },
    );
  }
  for (const key of Object.keys(value)) {
    if (!known.has(key)) {
      const param = name === '' ? key : `${name}.${key}`;
      throw invalid(param, `unknown field ${JSON.stringify(param)}; accepted: ${[...known].join(', ')}`);
    }
  }
  return value as Fields;
}

/**
 * Accepts a field this server has one behaviour for when it is absent, null or one of `accepted`
 * (compared as JSON); any other value is refused, saying what the server does instead. `path`
 * names the field in the error (`messages[0].tool_calls`).
 */
export function acceptOnly(
  fields: Fields,
  name: string,
  accepted: readonly unknown[],
  instead: string,
  path = name,
): void {
  const value = fields[name];
  if (value === undefined || value === null) return;
  const json = JSON.stringify(value);
  if (accepted.some((candidate) => JSON.stringify(candidate) === json)) return;
  throw invalid(path, `"${path}" ${json.slice(0, 60)} is not supported: ${instead}`, 'unsupported_value');
}

/** An optional string field (`user`, ...): absent, null or a string. */
export function optionalString(fields: Fields, name: string): string | undefined {
  const value = fields[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalid(name, `"${name}" must be a string, got ${describe(value)}`);
  return value;
}

function optionalNumber(fields: Fields, name: string, min: number, max: number, fallback: number): number {
  const value = fields[name];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw invalid(name, `"${name}" must be a number between ${min} and ${max}, got ${describe(value)}`);
  }
  return value;
}

function optionalBoolean(fields: Fields, name: string, path = name): boolean {
  const value = fields[name];
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') throw invalid(path, `"${path}" must be a boolean, got ${describe(value)}`);
  return value;
}

/** The 404 of a model this server does not serve, in OpenAI's words. */
export function modelNotFound(model: string): HttpError {
  return new HttpError(404, `the model ${JSON.stringify(model)} does not exist; this server serves "${MODEL_ID}"`, {
    param: 'model',
    code: 'model_not_found',
  });
}

/** Checks `model`: absent or the served model; another model is a 404. */
export function checkModel(fields: Fields): void {
  const model = fields.model;
  if (model === undefined) return;
  if (typeof model !== 'string') throw invalid('model', `"model" must be a string, got ${describe(model)}`);
  if (model !== MODEL_ID) throw modelNotFound(model);
}

/** `max_tokens` (or `name`): absent or null gives `fallback`; otherwise an integer in [1, the limit]. */
export function parseMaxTokens(fields: Fields, name: string, limits: RequestLimits, fallback: number): number {
  const value = fields[name];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw invalid(name, `"${name}" must be an integer, got ${describe(value)}`);
  }
  if (value < 1 || value > limits.maxCompletionTokens) {
    throw invalid(name, `"${name}" must be between 1 and ${limits.maxCompletionTokens}, got ${value}`);
  }
  return value;
}

function parseStop(fields: Fields): Uint8Array[] {
  const value = fields.stop;
  if (value === undefined || value === null) return [];
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length > MAX_STOP_SEQUENCES) {
    throw invalid(
      'stop',
      `"stop" must be a string or an array of up to ${MAX_STOP_SEQUENCES} strings, got ${describe(value)}`,
    );
  }
  return list.map((item: unknown, i) => {
    if (typeof item !== 'string' || item.length === 0) {
      throw invalid('stop', `"stop" item ${i} must be a non-empty string, got ${describe(item)}`);
    }
    return encodeText(item);
  });
}

function parseLogitBias(fields: Fields): Map<number, number> {
  const value = fields.logit_bias;
  const bias = new Map<number, number>();
  if (value === undefined || value === null) return bias;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw invalid('logit_bias', `"logit_bias" must be an object of token ids to numbers, got ${describe(value)}`);
  }
  for (const [key, amount] of Object.entries(value)) {
    const token = Number(key);
    if (!/^\d+$/.test(key) || token >= BYTE_TOKENS) {
      throw invalid(
        'logit_bias',
        `"logit_bias" keys must be token ids 0-${BYTE_TOKENS - 1} (bytes), got ${JSON.stringify(key)}`,
      );
    }
    if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < -100 || amount > 100) {
      throw invalid(
        'logit_bias',
        `"logit_bias" values must be numbers between -100 and 100, got ${describe(amount)} for ${key}`,
      );
    }
    bias.set(token, amount);
  }
  return bias;
}

function parseSeed(fields: Fields): number | undefined {
  const value = fields.seed;
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw invalid('seed', `"seed" must be an integer, got ${describe(value)}`);
  }
  // The generator takes 32 bits: the seed modulo 2^32.
  return value >>> 0;
}

/**
 * The sampling fields: `temperature` (0 to 2, default 0: this server decodes greedily unless asked
 * otherwise, so that runs are reproducible), `top_p` (0 to 1, default 1), `presence_penalty` and
 * `frequency_penalty` (-2 to 2, default 0), `logit_bias` (byte token ids to -100..100) and `seed`.
 */
export function parseSampling(fields: Fields): SamplingSettings {
  return {
    temperature: optionalNumber(fields, 'temperature', 0, 2, 0),
    topP: optionalNumber(fields, 'top_p', 0, 1, 1),
    presencePenalty: optionalNumber(fields, 'presence_penalty', -2, 2, 0),
    frequencyPenalty: optionalNumber(fields, 'frequency_penalty', -2, 2, 0),
    logitBias: parseLogitBias(fields),
    seed: parseSeed(fields),
  };
}

/** The fields both endpoints accept. */
export const SHARED_FIELDS = [
  'model',
  'max_tokens',
  'stream',
  'stream_options',
  'temperature',
  'top_p',
  'n',
  'stop',
  'presence_penalty',
  'frequency_penalty',
  'logit_bias',
  'logprobs',
  'seed',
  'user',
] as const;

/**
 * Builds the request from the shared fields, once the endpoint has read its prompt and its
 * `max_tokens`: streaming, sampling, stop, `n` (1 only: one choice per request) and the context
 * check. `logprobs` is checked by each endpoint (its type differs).
 */
export function completeRequest(
  fields: Fields,
  promptTokens: Uint8Array,
  maxTokens: number,
  limits: RequestLimits,
  extraStop: readonly Uint8Array[] = [],
): GenerationRequest {
  checkModel(fields);
  acceptOnly(fields, 'n', [1], 'this server returns one choice per request; send n: 1 or leave it out');
  const stream = optionalBoolean(fields, 'stream');
  const options = fields.stream_options;
  let includeUsage = false;
  if (options !== undefined && options !== null) {
    if (!stream) throw invalid('stream_options', '"stream_options" is only allowed when "stream" is true');
    includeUsage = optionalBoolean(
      checkFields(options, new Set(['include_usage']), 'stream_options'),
      'include_usage',
      'stream_options.include_usage',
    );
  }
  const sampling = parseSampling(fields);
  optionalString(fields, 'user');
  const stop = [...parseStop(fields), ...extraStop];
  if (promptTokens.length + maxTokens > limits.maxContext) {
    throw invalid(
      'messages' in fields ? 'messages' : 'prompt',
      `this model's context is ${limits.maxContext} tokens; the prompt has ${promptTokens.length} and max_tokens asks for ${maxTokens}`,
      'context_length_exceeded',
    );
  }
  return { promptTokens, maxTokens, stream, includeUsage, sampling, stop };
}
