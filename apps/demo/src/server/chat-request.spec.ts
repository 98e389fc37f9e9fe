import { describe, expect, it } from 'vitest';
import { validateChatBody } from './chat-request.js';
import { MESSAGE_END, renderChatPrompt } from './chat-template.js';
import { HttpError } from './http-error.js';
import { decodeTokens } from '../model/tokenizer.js';

const limits = { maxCompletionTokens: 256, maxContext: 1024 };

function rejection(body: unknown): HttpError {
  try {
    validateChatBody(body, limits);
  } catch (error) {
    expect(error).toBeInstanceOf(HttpError);
    return error as HttpError;
  }
  throw new Error(`expected ${JSON.stringify(body)} to be rejected`);
}

describe('the chat template', () => {
  it('renders messages as ChatML and opens the assistant turn', () => {
    expect(
      renderChatPrompt([
        { role: 'system', content: 'Be terse.' },
        { role: 'user', content: 'Hi', name: 'ada' },
      ]),
    ).toBe('<|im_start|>system\nBe terse.<|im_end|>\n<|im_start|>user name=ada\nHi<|im_end|>\n<|im_start|>assistant\n');
  });
});

describe('chat request validation', () => {
  it('renders the messages into the prompt and stops at the end of the turn', () => {
    const request = validateChatBody(
      {
        messages: [
          { role: 'developer', content: 'Be terse.' },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Hel' },
              { type: 'text', text: 'lo' },
            ],
          },
          { role: 'assistant', content: null },
          { role: 'user', content: 'Again', name: 'bob' },
        ],
        max_completion_tokens: 8,
        stop: 'xyz',
      },
      limits,
    );
    expect(decodeTokens(request.promptTokens)).toBe(
      '<|im_start|>developer\nBe terse.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n' +
        '<|im_start|>assistant\n<|im_end|>\n<|im_start|>user name=bob\nAgain<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(request.maxTokens).toBe(8);
    expect(request.stop.map((stop) => decodeTokens(stop))).toEqual(['xyz', MESSAGE_END]);
  });

  it('lets the answer use the rest of the context, up to the largest max_tokens, by default', () => {
    expect(validateChatBody({ messages: [{ role: 'user', content: 'x' }] }, limits).maxTokens).toBe(256);
    const long = 'y'.repeat(900);
    const request = validateChatBody({ messages: [{ role: 'user', content: long }] }, limits);
    expect(request.promptTokens.length + request.maxTokens).toBe(1024);
    expect(validateChatBody({ messages: [{ role: 'user', content: 'x' }], max_tokens: 5 }, limits).maxTokens).toBe(5);
  });

  it('accepts the fields clients send with their default or null values', () => {
    const request = validateChatBody(
      {
        model: 'mem-demo-byte-lm',
        messages: [{ role: 'user', content: 'hi', name: null, tool_calls: [] }],
        n: 1,
        logprobs: false,
        top_logprobs: null,
        response_format: { type: 'text' },
        tools: [],
        tool_choice: 'none',
        parallel_tool_calls: true,
        store: false,
        metadata: null,
        service_tier: 'auto',
        modalities: ['text'],
        reasoning_effort: null,
        prompt_cache_key: 'conversation-1',
        max_tokens: null,
        max_completion_tokens: null,
        temperature: 1,
        top_p: 1,
        presence_penalty: 0,
        frequency_penalty: 0,
        seed: 7,
        stop: null,
        stream: false,
        user: 'u',
      },
      limits,
    );
    expect(request.sampling).toMatchObject({ temperature: 1, topP: 1, seed: 7 });
  });

  it.each([
    [{}, 'messages', /missing required field "messages"/],
    [{ messages: [] }, 'messages', /non-empty array/],
    [{ messages: 'hi' }, 'messages', /non-empty array/],
    [{ messages: ['hi'] }, 'messages[0]', /"messages\[0\]" must be a JSON object/],
    [{ messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].role', /must be one of system/],
    [{ messages: [{ role: 'user' }] }, 'messages[0].content', /missing required field/],
    [{ messages: [{ role: 'user', content: null }] }, 'messages[0].content', /a string or an array of text parts/],
    [
      { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }] },
      'messages[0].content[0].image_url',
      /unknown field/,
    ],
    [
      { messages: [{ role: 'user', content: [{ type: 'input_audio' }] }] },
      'messages[0].content[0].type',
      /text parts only/,
    ],
    [{ messages: [{ role: 'user', content: 'x', name: 'a b' }] }, 'messages[0].name', /letters, digits/],
    [{ messages: [{ role: 'user', content: 'x', extra: 1 }] }, 'messages[0].extra', /unknown field/],
    [
      { messages: [{ role: 'assistant', content: 'x', tool_calls: [{ id: 'c' }] }] },
      'messages[0].tool_calls',
      /cannot call tools/,
    ],
    [{ messages: [{ role: 'user', content: 'x' }], n: 2 }, 'n', /one choice per request/],
    [{ messages: [{ role: 'user', content: 'x' }], logprobs: true }, 'logprobs', /log probabilities/],
    [
      { messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_object' } },
      'response_format',
      /plain text/,
    ],
    [{ messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function' }] }, 'tools', /cannot call tools/],
    [{ messages: [{ role: 'user', content: 'x' }], store: true }, 'store', /stores nothing/],
    [{ messages: [{ role: 'user', content: 'x' }], max_completion_tokens: 0 }, 'max_completion_tokens', /between 1/],
    [{ messages: [{ role: 'user', content: 'x' }], functions_call: 'auto' }, 'functions_call', /unknown field/],
  ])('rejects %j with a 400 naming %s', (body, param, message) => {
    const error = rejection(body);
    expect(error.status).toBe(400);
    expect(error.param).toBe(param);
    expect(error.message).toMatch(message);
  });

  it('rejects messages that do not fit the context', () => {
    const error = rejection({ messages: [{ role: 'user', content: 'z'.repeat(1100) }] });
    expect(error.code).toBe('context_length_exceeded');
    expect(error.param).toBe('messages');
  });
});
