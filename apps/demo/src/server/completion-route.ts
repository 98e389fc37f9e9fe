/**
 * `POST /v1/completions`: checks the content type, reads and validates the body, submits the
 * request to the engine and answers it, as one JSON answer or as server-sent events (one chunk per
 * decoded token, then `data: [DONE]`). A client that goes away cancels its request.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TokenDecoder } from '../model/tokenizer.js';
import type { CompletionEngine, FinishReason, SubmittedRequest } from './completion-engine.js';
import { MODEL_ID, type CompletionRequest } from './completion-request.js';
import { HttpError } from './http-error.js';
import { sendError, sendJson, writeLeased } from './leased-writes.js';
import { readBody } from './request-body.js';
import type { ServerRuntime } from './server-runtime.js';

/** A client that stops reading is cut off once this many bytes wait in its socket. */
const MAX_PENDING_BYTES = 1 << 20;

/**
 * Answers `POST /v1/completions`: 415 unless the body is JSON, then the request is read
 * ({@link readBody}), submitted to the engine and answered as JSON or as server-sent events.
 */
export function handleCompletion(runtime: ServerRuntime, req: IncomingMessage, res: ServerResponse): void {
  const route = '/v1/completions';
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
  readBody(runtime, req).then(
    (request) => (request.stream ? streamCompletion(runtime, res, request) : answerCompletion(runtime, res, request)),
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
  request: CompletionRequest,
  listener: Parameters<CompletionEngine['submit']>[1],
): SubmittedRequest | undefined {
  try {
    return runtime.engine.submit(request, listener);
  } catch (error) {
    if (error instanceof HttpError) sendError(runtime, res, '/v1/completions', error);
    else sendError(runtime, res, '/v1/completions', new HttpError(500, (error as Error).message));
    return undefined;
  }
}

function answerCompletion(runtime: ServerRuntime, res: ServerResponse, request: CompletionRequest): void {
  const created = Math.floor(Date.now() / 1000);
  const decoder = new TokenDecoder();
  let text = '';
  let count = 0;
  let finished = false;
  const submitted = submitOrAnswer(runtime, res, request, {
    onToken(token) {
      text += decoder.push(token);
      count++;
    },
    onFinish(reason: FinishReason) {
      finished = true;
      text += decoder.end();
      sendJson(runtime, res, '/v1/completions', 200, {
        id: submitted?.id,
        object: 'text_completion',
        created,
        model: MODEL_ID,
        choices: [{ text, index: 0, logprobs: null, finish_reason: reason }],
        usage: {
          prompt_tokens: request.promptTokens.length,
          completion_tokens: count,
          total_tokens: request.promptTokens.length + count,
        },
      });
    },
    onError(error) {
      finished = true;
      sendError(runtime, res, '/v1/completions', new HttpError(500, error.message));
    },
  });
  if (submitted === undefined) return;
  res.on('close', () => {
    if (!finished) {
      finished = true;
      submitted.cancel();
      runtime.recordDisconnect();
    }
  });
}

function streamCompletion(runtime: ServerRuntime, res: ServerResponse, request: CompletionRequest): void {
  const created = Math.floor(Date.now() / 1000);
  const decoder = new TokenDecoder();
  let finished = false;
  const chunk = (text: string, reason: FinishReason | null): string =>
    `data: ${JSON.stringify({
      id: submitted?.id,
      object: 'text_completion',
      created,
      model: MODEL_ID,
      choices: [{ text, index: 0, logprobs: null, finish_reason: reason }],
    })}\n\n`;
  const abandon = (): void => {
    if (finished) return;
    finished = true;
    submitted?.cancel();
    runtime.recordDisconnect();
    res.destroy();
  };
  // The engine never calls a listener from inside submit(), so `submitted` is set before any callback runs.
  const submitted: SubmittedRequest | undefined = submitOrAnswer(runtime, res, request, {
    onToken(token) {
      if (res.destroyed) return;
      const text = decoder.push(token);
      if (text.length === 0) return;
      writeLeased(runtime.io, res, chunk(text, null));
      // A client that stops reading while we keep producing would make us buffer without bound.
      if (res.writableLength > MAX_PENDING_BYTES) abandon();
    },
    onFinish(reason) {
      finished = true;
      if (res.destroyed) return;
      const rest = decoder.end();
      writeLeased(runtime.io, res, chunk(rest, reason) + 'data: [DONE]\n\n', true);
      runtime.recordHttp('/v1/completions', 200);
    },
    onError(error) {
      finished = true;
      if (res.destroyed) return;
      writeLeased(runtime.io, res, `data: ${JSON.stringify(new HttpError(500, error.message).toJSON())}\n\n`, true);
      runtime.recordHttp('/v1/completions', 500);
    },
  });
  if (submitted === undefined) return;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-request-id': submitted.id,
  });
  res.flushHeaders();
  res.on('close', () => {
    if (!finished) abandon();
  });
}
