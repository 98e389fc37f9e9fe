/**
 * The demo's HTTP server (node:http): the OpenAI-style completions endpoint with server-sent events,
 * Prometheus metrics, the dashboard and its JSON, each request body read into a leased I/O buffer
 * and each response chunk written from one, released once the socket has written it.
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CompletionEngine, FinishReason, SubmittedRequest } from './completion-engine.js';
import { MODEL_ID, parseCompletionBody, type CompletionRequest, type RequestLimits } from './completion-request.js';
import { renderDashboardPage } from './dashboard-page.js';
import { HttpError } from './http-error.js';
import type { IoBuffers } from './io-buffers.js';
import { TokenDecoder } from '../model/tokenizer.js';

/** What the server serves from. */
export interface ServerRuntime {
  /** Completes the requests. */
  readonly engine: CompletionEngine;
  /** Limits of `max_tokens` and the context. */
  readonly limits: RequestLimits;
  /** Largest request body accepted, in bytes. */
  readonly maxBodyBytes: number;
  /** Buffers for bodies and response chunks. */
  readonly io: IoBuffers;
  /** The JSON behind the dashboard (`GET /api/stats`). */
  dashboardStats(): unknown;
  /** The Prometheus exposition (`GET /metrics`). */
  metrics(): Promise<{ contentType: string; body: string }>;
  /** The workspace pool's memory map (`GET /api/workspace-map.svg`). */
  workspaceMapSvg(): string;
  /** Counts an answered HTTP request by route and status. */
  recordHttp(route: string, status: number): void;
  /** Counts a request whose client went away before it finished. */
  recordDisconnect(): void;
  /** Where the server logs. */
  log(message: string): void;
}

/** A listening server. */
export interface RunningServer {
  /** `http://host:port`. */
  readonly url: string;
  /** The underlying node:http server. */
  readonly server: Server;
  /** Stops accepting, closes idle and open connections, resolves when closed. */
  close(): Promise<void>;
}

/** A client that stops reading is cut off once this many bytes wait in its socket. */
const MAX_PENDING_BYTES = 1 << 20;
/** A too-large body is read and discarded up to this many bytes (so the client can read the 413), then the connection is cut. */
const DISCARD_LIMIT_FACTOR = 16;

const encoder = new TextEncoder();

/** The leases a response's socket has not confirmed yet. */
const inFlight = new WeakMap<ServerResponse, Set<() => void>>();

/**
 * Returns a lease's buffer once the socket is done with it: normally from the write callback; for a
 * socket destroyed with writes pending (a client that went away), from the response's 'close', which
 * Node emits after the socket's handle has closed and can no longer read the memory. Node drops the
 * write callbacks of a destroyed socket, so without this the buffers would never come back.
 */
function trackLease(res: ServerResponse, release: () => void): () => void {
  let pending = inFlight.get(res);
  if (pending === undefined) {
    const created = new Set<() => void>();
    pending = created;
    inFlight.set(res, created);
    res.once('close', () => {
      for (const done of [...created]) done();
    });
  }
  const set = pending;
  let released = false;
  const done = (): void => {
    if (released) return;
    released = true;
    set.delete(done);
    release();
  };
  set.add(done);
  return done;
}

/** Writes `text` from a leased buffer that goes back to the pool once the socket has written it. */
function writeLeased(io: IoBuffers, res: ServerResponse, text: string, end = false): boolean {
  // A destroyed socket (the client left) would drop the write and its callback: write nothing.
  if (res.destroyed || res.socket?.destroyed === true) return false;
  const size = Buffer.byteLength(text);
  const lease = io.lease(size);
  const { written } = encoder.encodeInto(text, lease.bytes);
  const chunk = lease.nodeBuffer(written ?? size);
  const done = trackLease(res, () => lease.release());
  if (end) {
    res.end(chunk, done);
    return true;
  }
  return res.write(chunk, done);
}

function sendJson(
  runtime: ServerRuntime,
  res: ServerResponse,
  route: string,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  runtime.recordHttp(route, status);
  if (res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  writeLeased(runtime.io, res, text, true);
}

function sendError(runtime: ServerRuntime, res: ServerResponse, route: string, error: HttpError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(runtime, res, route, error.status, error.toJSON(), { ...error.headers });
}

/**
 * Reads the body into one leased buffer of `maxBodyBytes`, then parses it. A body over the limit is
 * answered 413 (after it was discarded, so the client can read the answer, or by cutting the
 * connection if it keeps going).
 */
function readBody(runtime: ServerRuntime, req: IncomingMessage): Promise<CompletionRequest> {
  const limit = runtime.maxBodyBytes;
  return new Promise((resolve, reject) => {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit * DISCARD_LIMIT_FACTOR) {
      reject(
        new HttpError(413, `the body (${declared} bytes) is larger than the limit of ${limit} bytes`, {
          headers: { connection: 'close' },
        }),
      );
      req.destroy();
      return;
    }
    const declaredLength = declared === undefined ? NaN : Number(declared);
    let tooLarge = declaredLength > limit;
    // A declared length sizes the buffer exactly; a chunked body gets room for the largest accepted body.
    const lease = runtime.io.lease(Number.isInteger(declaredLength) && !tooLarge ? Math.max(1, declaredLength) : limit);
    let length = 0;
    let received = 0;
    let settled = false;
    const finish = (action: () => void): void => {
      if (settled) return;
      settled = true;
      lease.release();
      action();
    };
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (tooLarge || length + chunk.length > lease.bytes.length || length + chunk.length > limit) {
        tooLarge = true;
        if (received > limit * DISCARD_LIMIT_FACTOR) {
          finish(() =>
            reject(
              new HttpError(413, `the body is larger than the limit of ${limit} bytes`, {
                headers: { connection: 'close' },
              }),
            ),
          );
          req.destroy();
        }
        return;
      }
      lease.bytes.set(chunk, length);
      length += chunk.length;
    });
    req.on('end', () => {
      if (tooLarge) {
        finish(() =>
          reject(new HttpError(413, `the body (${received} bytes) is larger than the limit of ${limit} bytes`)),
        );
        return;
      }
      // Parsing reads the leased bytes; the buffer goes back as soon as the request is validated.
      finish(() => {
        try {
          resolve(parseCompletionBody(lease.bytes.subarray(0, length), runtime.limits));
        } catch (error) {
          reject(error);
        }
      });
    });
    req.on('error', (error) => finish(() => reject(error)));
    req.on('close', () =>
      finish(() => reject(new HttpError(400, 'the client closed the connection before the body ended'))),
    );
  });
}

function handleCompletion(runtime: ServerRuntime, req: IncomingMessage, res: ServerResponse): void {
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

function methodNotAllowed(allowed: string): HttpError {
  return new HttpError(405, `method not allowed; use ${allowed}`, { headers: { allow: allowed } });
}

function route(runtime: ServerRuntime, req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0]!;
  const method = req.method ?? 'GET';
  const expectGet = (): boolean => {
    if (method === 'GET') return true;
    req.resume();
    sendError(runtime, res, path, methodNotAllowed('GET'));
    return false;
  };
  switch (path) {
    case '/v1/completions':
      if (method !== 'POST') {
        req.resume();
        sendError(runtime, res, path, methodNotAllowed('POST'));
        return;
      }
      handleCompletion(runtime, req, res);
      return;
    case '/':
      if (!expectGet()) return;
      runtime.recordHttp(path, 200);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' });
      writeLeased(runtime.io, res, renderDashboardPage('mem demo: LLM serving on four memory pools'), true);
      return;
    case '/metrics':
      if (!expectGet()) return;
      runtime.metrics().then(
        ({ contentType, body }) => {
          runtime.recordHttp(path, 200);
          res.writeHead(200, { 'content-type': contentType });
          writeLeased(runtime.io, res, body, true);
        },
        (error: unknown) => sendError(runtime, res, path, new HttpError(500, (error as Error).message)),
      );
      return;
    case '/api/stats':
      if (!expectGet()) return;
      sendJson(runtime, res, path, 200, runtime.dashboardStats(), { 'cache-control': 'no-store' });
      return;
    case '/api/workspace-map.svg':
      if (!expectGet()) return;
      runtime.recordHttp(path, 200);
      res.writeHead(200, { 'content-type': 'image/svg+xml', 'cache-control': 'no-store' });
      writeLeased(runtime.io, res, runtime.workspaceMapSvg(), true);
      return;
    case '/v1/models':
      if (!expectGet()) return;
      sendJson(runtime, res, path, 200, { object: 'list', data: [{ id: MODEL_ID, object: 'model', owned_by: 'mem' }] });
      return;
    case '/healthz':
      if (!expectGet()) return;
      sendJson(runtime, res, path, 200, { ok: true });
      return;
    default:
      req.resume();
      sendError(
        runtime,
        res,
        'other',
        new HttpError(404, `no route ${method} ${path}; try POST /v1/completions, GET /, GET /metrics`),
      );
  }
}

/**
 * Starts the server on `host:port` (port 0 picks a free one).
 * Cost: one listening socket; every request is answered from `runtime`.
 */
export function startServer(
  runtime: ServerRuntime,
  options: { host?: string; port?: number } = {},
): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const server = createServer((req, res) => {
    try {
      route(runtime, req, res);
    } catch (error) {
      runtime.log(`internal error on ${req.method} ${req.url}: ${(error as Error).stack ?? String(error)}`);
      sendError(runtime, res, 'other', new HttpError(500, 'internal error'));
    }
  });
  server.keepAliveTimeout = 5_000;
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://${host}:${port}`,
        server,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
