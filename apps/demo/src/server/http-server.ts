/**
 * The demo's HTTP server (node:http): accepts connections and routes each request: the
 * OpenAI-style completions endpoint (`completion-route.ts`), Prometheus metrics, the dashboard and
 * its JSON, the workspace pool's memory map. Every answer is written from leased I/O buffers
 * (`leased-writes.ts`).
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleCompletion } from './completion-route.js';
import { MODEL_ID } from './completion-request.js';
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
