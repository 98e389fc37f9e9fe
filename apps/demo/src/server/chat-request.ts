/**
 * Validation of `POST /v1/chat/completions` bodies: the messages (rendered through the chat
 * template of `chat-template.ts`), `max_completion_tokens` or its older name `max_tokens`, the
 * chat-only fields clients send with their defaults, and the fields both endpoints share
 * (`request-fields.ts`).
 * @module
 */
import { MESSAGE_END, renderChatPrompt, type ChatMessage } from './chat-template.js';
import { encodeText } from '../model/tokenizer.js';
import {
  SHARED_FIELDS,
  acceptOnly,
  checkFields,
  completeRequest,
  describe,
  invalid,
  optionalString,
  parseMaxTokens,
  type Fields,
  type GenerationRequest,
  type RequestLimits,
} from './request-fields.js';

const KNOWN_FIELDS = new Set<string>([
  ...SHARED_FIELDS,
  'messages',
  'max_completion_tokens',
  'top_logprobs',
  'response_format',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'functions',
  'function_call',
  'store',
  'metadata',
  'service_tier',
  'modalities',
  'reasoning_effort',
  'audio',
  'prediction',
  'web_search_options',
  'prompt_cache_key',
  'safety_identifier',
]);

const MESSAGE_FIELDS = new Set(['role', 'content', 'name', 'refusal', 'tool_calls', 'function_call', 'audio']);
const ROLES = new Set(['system', 'developer', 'user', 'assistant']);
const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const END_BYTES = encodeText(MESSAGE_END);

/** The fields of a chat request the server has one behaviour for, and what it does instead. */
function acceptDefaults(fields: Fields): void {
  acceptOnly(fields, 'logprobs', [false], 'this server does not return log probabilities');
  acceptOnly(fields, 'top_logprobs', [0], 'this server does not return log probabilities');
  acceptOnly(fields, 'response_format', [{ type: 'text' }], 'the model answers in plain text');
  acceptOnly(fields, 'tools', [[]], 'the model cannot call tools');
  acceptOnly(fields, 'tool_choice', ['none'], 'the model cannot call tools');
  acceptOnly(fields, 'parallel_tool_calls', [true, false], 'the model cannot call tools');
  acceptOnly(fields, 'functions', [[]], 'the model cannot call functions');
  acceptOnly(fields, 'function_call', ['none'], 'the model cannot call functions');
  acceptOnly(fields, 'store', [false], 'this server stores nothing');
  acceptOnly(fields, 'metadata', [{}], 'this server stores nothing to attach metadata to');
  acceptOnly(fields, 'service_tier', ['auto', 'default'], 'this server has one tier');
  acceptOnly(fields, 'modalities', [['text']], 'the model reads and writes text only');
  acceptOnly(fields, 'reasoning_effort', [], 'the model does not reason in separate tokens');
  acceptOnly(fields, 'audio', [], 'the model reads and writes text only');
  acceptOnly(fields, 'prediction', [], 'this server does not use predicted outputs');
  acceptOnly(fields, 'web_search_options', [], 'the model cannot search the web');
  // Accepted and without effect here: the prefix cache finds shared prompts by their content.
  optionalString(fields, 'prompt_cache_key');
  optionalString(fields, 'safety_identifier');
}

function parseContent(value: unknown, path: string, role: string): string {
  if (typeof value === 'string') return value;
  if (value === null && role === 'assistant') return '';
  if (!Array.isArray(value)) {
    throw invalid(path, `"${path}" must be a string or an array of text parts, got ${describe(value)}`);
  }
  return value
    .map((part: unknown, j) => {
      const fields = checkFields(part, new Set(['type', 'text']), `${path}[${j}]`);
      if (fields.type !== 'text') {
        throw invalid(
          `${path}[${j}].type`,
          `"${path}[${j}].type" ${describe(fields.type)} is not supported: the model reads text parts only`,
          'unsupported_value',
        );
      }
      if (typeof fields.text !== 'string') {
        throw invalid(`${path}[${j}].text`, `"${path}[${j}].text" must be a string, got ${describe(fields.text)}`);
      }
      return fields.text;
    })
    .join('');
}

function parseMessage(value: unknown, i: number): ChatMessage {
  const path = `messages[${i}]`;
  const fields = checkFields(value, MESSAGE_FIELDS, path);
  const role = fields.role;
  if (typeof role !== 'string' || !ROLES.has(role)) {
    throw invalid(
      `${path}.role`,
      `"${path}.role" must be one of ${[...ROLES].join(', ')} (the model cannot call tools), got ${describe(role)}`,
      typeof role === 'string' ? 'unsupported_value' : undefined,
    );
  }
  acceptOnly(fields, 'tool_calls', [[]], 'the model cannot call tools', `${path}.tool_calls`);
  acceptOnly(fields, 'function_call', [], 'the model cannot call functions', `${path}.function_call`);
  acceptOnly(fields, 'refusal', [], 'the chat template has no place for refusals', `${path}.refusal`);
  acceptOnly(fields, 'audio', [], 'the model reads and writes text only', `${path}.audio`);
  if (!('content' in fields)) throw invalid(`${path}.content`, `missing required field "${path}.content"`);
  const content = parseContent(fields.content, `${path}.content`, role);
  const name = fields.name;
  if (name === undefined || name === null) return { role, content };
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw invalid(`${path}.name`, `"${path}.name" must be 1-64 letters, digits, _ or -, got ${describe(name)}`);
  }
  return { role, content, name };
}

/**
 * Checks a parsed JSON body and returns the request it describes: the messages rendered through
 * the chat template, with the template's end marker as a stop sequence besides the request's own.
 * Without `max_completion_tokens` (or `max_tokens`) the completion may use the rest of the context,
 * up to the server's largest `max_tokens`.
 * @throws HttpError 400 for a body that is not an object, an unknown field, a missing, malformed or
 * unsupported message, a value out of range or one the server cannot honour (`n` other than 1,
 * tools, log probabilities, a JSON response format...), or messages that do not fit the context;
 * 404 for an unknown model.
 */
export function validateChatBody(body: unknown, limits: RequestLimits): GenerationRequest {
  const fields = checkFields(body, KNOWN_FIELDS);
  acceptDefaults(fields);
  const list = fields.messages;
  if (list === undefined) throw invalid('messages', 'missing required field "messages"');
  if (!Array.isArray(list) || list.length === 0) {
    throw invalid('messages', `"messages" must be a non-empty array of messages, got ${describe(list)}`);
  }
  const promptTokens = encodeText(renderChatPrompt(list.map(parseMessage)));
  const room = Math.max(1, Math.min(limits.maxCompletionTokens, limits.maxContext - promptTokens.length));
  const older = parseMaxTokens(fields, 'max_tokens', limits, room);
  const maxTokens = parseMaxTokens(fields, 'max_completion_tokens', limits, older);
  return completeRequest(fields, promptTokens, maxTokens, limits, [END_BYTES]);
}
