/**
 * `POST /v1/completions` and `POST /v1/chat/completions`: checks the content type, reads and
 * validates the body, submits the request to the engine and answers it in the endpoint's shape
 * (`openai-answers.ts`), as one JSON answer or as server-sent events (a chunk per piece of decoded
 * text, the usage if asked for, then `data: [DONE]`). A client that goes away cancels its request.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TokenDecoder } from '../model/tokenizer.js';
import type { CompletionListener, SubmittedRequest } from './completion-engine.js';
import { validateChatBody } from './chat-request.js';
import { validateCompletionBody } from './completion-request.js';
import { HttpError } from './http-error.js';
import { sendError, sendJson, writeLeased } from './leased-writes.js';
import { CHAT_COMPLETION, TEXT_COMPLETION, usageJson, type AnswerFormat } from './openai-answers.js';
import { readJsonBody } from './request-body.js';
import type { GenerationRequest, RequestLimits } from './request-fields.js';
import type { ServerRuntime } from './server-runtime.js';

/** A client that stops reading is cut off once this many bytes wait in its socket. */
const MAX_PENDING_BYTES = 1 << 20;

/** An OpenAI endpoint that generates: how its body is validated and how its answers look. */
export interface GenerationEndpoint {
  /** Turns the parsed JSON body into a request, or throws an {@link HttpError}. */
  readonly validate: (body: unknown, limits: RequestLimits) => GenerationRequest;
  /** The shape of its answers. */
  readonly format: AnswerFormat;
}

/** `POST /v1/completions`. */
export const COMPLETIONS: GenerationEndpoint = { validate: validateCompletionBody, format: TEXT_COMPLETION };

/** `POST /v1/chat/completions`. */
export const CHAT_COMPLETIONS: GenerationEndpoint = { validate: validateChatBody, format: CHAT_COMPLETION };

/**
 * Answers a POST to `endpoint`: 415 unless the body is JSON, then the body is read
 * ({@link readJsonBody}), validated, submitted to the engine and answered as JSON or as server-sent
 * events.
 */
export function handleCompletion(
  runtime: ServerRuntime,
  req: IncomingMessage,
  res: ServerResponse,
  endpoint: GenerationEndpoint,
): void {
  const { route } = endpoint.format;
  const contentType = req.headers['content-type'] ?? '';
  if (!/^application\/json\s*(;|$)/i.test(contentType)) {
    req.resume();
    sendError(
      runtime,
      res,
      route,
      new HttpError(415, `the body must be application/json, got content-type ${JSON.stringify(contentType)}`),
    );
    return;
  }
  readJsonBody(runtime, req)
    .then((body) => endpoint.validate(body, runtime.limits))
    .then(
      (request) =>
        request.stream
          ? streamCompletion(runtime, res, request, endpoint.format)
          : answerCompletion(runtime, res, request, endpoint.format),
      (error: unknown) => {
        if (error instanceof HttpError) sendError(runtime, res, route, error);
        else if (!res.destroyed)
          sendError(runtime, res, route, new HttpError(400, `could not read the body: ${(error as Error).message}`));
      },
    );
}

function submitOrAnswer(
  runtime: ServerRuntime,
  res: ServerResponse,
  request: GenerationRequest,
  route: string,
  listener: CompletionListener,
): SubmittedRequest | undefined {
  try {
    return runtime.engine.submit(request, listener);
  } catch (error) {
    sendError(runtime, res, route, error instanceof HttpError ? error : new HttpError(500, (error as Error).message));
    return undefined;
  }
}

function answerCompletion(
  runtime: ServerRuntime,
  res: ServerResponse,
  request: GenerationRequest,
  format: AnswerFormat,
): void {
  const created = Math.floor(Date.now() / 1000);
  const decoder = new TokenDecoder();
  let text = '';
  let finished = false;
  // The engine never calls a listener from inside submit(), so `submitted` is set before any callback runs.
  const submitted = submitOrAnswer(runtime, res, request, format.route, {
    onToken(token) {
      text += decoder.push(token);
    },
    onFinish(reason, usage) {
      finished = true;
      text += decoder.end();
      const header = { id: format.id(submitted!.id), created };
      sendJson(
        runtime,
        res,
        format.route,
        200,
        format.answer(header, text, reason, usageJson(request.promptTokens.length, usage)),
      );
    },
    onError(error) {
      finished = true;
      sendError(runtime, res, format.route, new HttpError(500, error.message));
    },
  });
  if (submitted === undefined) return;
  res.on('close', () => {
    if (!finished) {
      finished = true;
      submitted.cancel();
    }
  });
}

function streamCompletion(
  runtime: ServerRuntime,
  res: ServerResponse,
  request: GenerationRequest,
  format: AnswerFormat,
): void {
  const decoder = new TokenDecoder();
  // The id is the engine's, known once the request is submitted (before any listener call).
  const header: { id: string; created: number } = { id: '', created: Math.floor(Date.now() / 1000) };
  let finished = false;
  // With stream_options.include_usage, OpenAI's chunks carry `usage: null` until the last one.
  const event = (chunk: object): string =>
    `data: ${JSON.stringify(request.includeUsage ? { ...chunk, usage: null } : chunk)}\n\n`;
  const abandon = (): void => {
    if (finished) return;
    finished = true;
    submitted?.cancel();
    res.destroy();
  };
  // The engine never calls a listener from inside submit(), so `submitted` is set before any callback runs.
  const submitted: SubmittedRequest | undefined = submitOrAnswer(runtime, res, request, format.route, {
    onToken(token) {
      if (res.destroyed) return;
      const text = decoder.push(token);
      if (text.length === 0) return;
      writeLeased(runtime.io, res, event(format.chunk(header, text, null)));
      // A client that stops reading while we keep producing would make us buffer without bound.
      if (res.writableLength > MAX_PENDING_BYTES) abandon();
    },
    onFinish(reason, usage) {
      finished = true;
      if (res.destroyed) return;
      let tail = event(format.chunk(header, decoder.end(), reason));
      if (request.includeUsage) {
        tail += `data: ${JSON.stringify(format.usageChunk(header, usageJson(request.promptTokens.length, usage)))}\n\n`;
      }
      writeLeased(runtime.io, res, `${tail}data: [DONE]\n\n`, true);
      runtime.recordHttp(format.route, 200);
    },
    onError(error) {
      finished = true;
      if (res.destroyed) return;
      writeLeased(runtime.io, res, `data: ${JSON.stringify(new HttpError(500, error.message).toJSON())}\n\n`, true);
      runtime.recordHttp(format.route, 500);
    },
  });
  if (submitted === undefined) return;
  header.id = format.id(submitted.id);
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-request-id': header.id,
  });
  const opening = format.opening(header);
  if (opening === undefined) res.flushHeaders();
  else writeLeased(runtime.io, res, event(opening));
  res.on('close', () => {
    if (!finished) abandon();
  });
}
