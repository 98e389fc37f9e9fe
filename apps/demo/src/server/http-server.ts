/**
 * The demo's HTTP server (node:http): accepts connections and routes each request: the
 * OpenAI-compatible endpoints (completions and chat completions in `completion-route.ts`, the
 * model list and model object), Prometheus metrics, the dashboard and its JSON, the workspace
 * pool's memory map. Every answer is written from leased I/O buffers (`leased-writes.ts`).
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CHAT_COMPLETIONS, COMPLETIONS, handleCompletion, type GenerationEndpoint } from './completion-route.js';
import { MODEL_ID, modelNotFound } from './request-fields.js';
import { ASSET_PATH, dashboardAsset } from './dashboard-assets.js';
import { renderDashboardPage } from './dashboard-page.js';
import { HttpError } from './http-error.js';
import { sendError, sendJson, writeLeased } from './leased-writes.js';
import type { ServerRuntime } from './server-runtime.js';

/** A listening server. */
export interface RunningServer {
  /** `http://host:port`. */
  readonly url: string;
  /** The underlying node:http server. */
  readonly server: Server;
  /** Stops accepting, closes idle and open connections, resolves when closed. */
  close(): Promise<void>;
}

function methodNotAllowed(allowed: string): HttpError {
  return new HttpError(405, `method not allowed; use ${allowed}`, { headers: { allow: allowed } });
}

const GENERATION_STATUSES = [200, 400, 404, 405, 413, 415, 500, 503] as const;
const GET_STATUSES = [200, 405] as const;

/**
 * Every route the server counts its answers under (`ServerRuntime.recordHttp`), with each status it
 * can answer there: the metrics export each pair from the start, at 0.
 */
export const HTTP_ROUTE_STATUSES: Readonly<Record<string, readonly number[]>> = {
  '/v1/completions': GENERATION_STATUSES,
  '/v1/chat/completions': GENERATION_STATUSES,
  '/v1/models': GET_STATUSES,
  '/v1/models/{id}': [200, 404, 405],
  '/': GET_STATUSES,
  '/metrics': [200, 405, 500],
  '/api/stats': GET_STATUSES,
  '/api/workspace-map.svg': GET_STATUSES,
  '/healthz': GET_STATUSES,
  '/assets/{file}': [200, 404, 405],
  other: [404, 500],
};

/** The prefix of `GET /v1/models/{id}`. */
const MODEL_PATH = '/v1/models/';

const GENERATION_ENDPOINTS: ReadonlyMap<string, GenerationEndpoint> = new Map([
  ['/v1/completions', COMPLETIONS],
  ['/v1/chat/completions', CHAT_COMPLETIONS],
]);

/** A percent-encoded path segment, decoded (as it is, if it is malformed). */
function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** OpenAI's model object of the served model. */
function modelObject(runtime: ServerRuntime): object {
  return { id: MODEL_ID, object: 'model', created: runtime.modelCreated, owned_by: 'mem' };
}

/** `GET /v1/models/{id}`: the model object, or 404 in OpenAI's shape. */
function answerModel(runtime: ServerRuntime, res: ServerResponse, id: string): void {
  const route = `${MODEL_PATH}{id}`;
  if (id === MODEL_ID) {
    sendJson(runtime, res, route, 200, modelObject(runtime));
    return;
  }
  sendError(runtime, res, route, modelNotFound(id));
}

/** `GET /assets/{file}`: a file the dashboard loads, cached by the browser for a day. */
function answerAsset(runtime: ServerRuntime, res: ServerResponse, name: string): void {
  const route = `${ASSET_PATH}{file}`;
  const asset = dashboardAsset(name);
  if (asset === undefined) {
    sendError(runtime, res, route, new HttpError(404, `no asset ${JSON.stringify(name)}`));
    return;
  }
  runtime.recordHttp(route, 200);
  res.writeHead(200, { 'content-type': asset.contentType, 'cache-control': 'public, max-age=86400' });
  writeLeased(runtime.io, res, asset.body, true);
}

function route(runtime: ServerRuntime, req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0]!;
  const method = req.method ?? 'GET';
  const expect = (allowed: 'GET' | 'POST', counted = path): boolean => {
    if (method === allowed) return true;
    req.resume();
    sendError(runtime, res, counted, methodNotAllowed(allowed));
    return false;
  };
  const expectGet = (): boolean => expect('GET');
  const endpoint = GENERATION_ENDPOINTS.get(path);
  if (endpoint !== undefined) {
    if (expect('POST')) handleCompletion(runtime, req, res, endpoint);
    return;
  }
  if (path.startsWith(ASSET_PATH)) {
    if (expect('GET', `${ASSET_PATH}{file}`)) answerAsset(runtime, res, path.slice(ASSET_PATH.length));
    return;
  }
  if (path.startsWith(MODEL_PATH)) {
    if (expect('GET', `${MODEL_PATH}{id}`)) answerModel(runtime, res, decodePathSegment(path.slice(MODEL_PATH.length)));
    return;
  }
  switch (path) {
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
      sendJson(runtime, res, path, 200, { object: 'list', data: [modelObject(runtime)] });
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
        new HttpError(
          404,
          `no route ${method} ${path}; try POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /, GET /metrics`,
        ),
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
