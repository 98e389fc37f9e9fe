/**
 * Validation of `POST /v1/completions` bodies: the prompt (text or byte tokens), `max_tokens`
 * (default 16, as OpenAI's) and the fields both endpoints share (`request-fields.ts`). Every
 * failure is an {@link HttpError} that says which field was wrong, what it was and what was expected.
 * @module
 */
import { encodeText } from '../model/tokenizer.js';
import {
  SHARED_FIELDS,
  acceptOnly,
  checkFields,
  completeRequest,
  describe,
  invalid,
  parseMaxTokens,
  type GenerationRequest,
  type RequestLimits,
} from './request-fields.js';

/** OpenAI's default when `max_tokens` is absent. */
export const DEFAULT_MAX_TOKENS = 16;

const KNOWN_FIELDS = new Set<string>([...SHARED_FIELDS, 'prompt', 'echo', 'best_of', 'suffix']);

function parsePrompt(value: unknown): Uint8Array {
  if (value === undefined) throw invalid('prompt', 'missing required field "prompt"');
  if (typeof value === 'string') {
    if (value.length === 0) throw invalid('prompt', '"prompt" must not be empty');
    return encodeText(value);
  }
  if (Array.isArray(value)) {
    if (value.length === 0) throw invalid('prompt', '"prompt" must not be empty');
    const tokens = new Uint8Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const token: unknown = value[i];
      if (typeof token !== 'number' || !Number.isInteger(token) || token < 0 || token > 255) {
        throw invalid(
          'prompt',
          `"prompt" as an array must hold byte tokens (integers 0-255); item ${i} is ${describe(token)}`,
        );
      }
      tokens[i] = token;
    }
    return tokens;
  }
  throw invalid(
    'prompt',
    `"prompt" must be a string or an array of byte tokens (integers 0-255), got ${describe(value)}`,
  );
}

/**
 * Checks a parsed JSON body and returns the request it describes.
 * @throws HttpError 400 for a body that is not an object, an unknown field, a missing or wrong-typed
 * field, a value out of range or one the server cannot honour (`n` other than 1, `echo`, `best_of`
 * other than 1, `suffix`, `logprobs`), or a prompt that does not fit the context; 404 for an
 * unknown model.
 */
export function validateCompletionBody(body: unknown, limits: RequestLimits): GenerationRequest {
  const fields = checkFields(body, KNOWN_FIELDS);
  acceptOnly(fields, 'echo', [false], 'the answer never repeats the prompt');
  acceptOnly(fields, 'best_of', [1], 'this server generates one completion per request');
  acceptOnly(fields, 'suffix', [''], 'the model completes after the prompt only');
  acceptOnly(fields, 'logprobs', [], 'this server does not return log probabilities');
  const promptTokens = parsePrompt(fields.prompt);
  const maxTokens = parseMaxTokens(fields, 'max_tokens', limits, DEFAULT_MAX_TOKENS);
  return completeRequest(fields, promptTokens, maxTokens, limits);
}
