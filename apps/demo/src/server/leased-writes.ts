/**
 * Answers written from leased I/O buffers: each chunk is encoded into a buffer leased from the
 * runtime's {@link IoBuffers} and handed to the socket without a copy; the buffer goes back once
 * the socket has written it, or once the socket is closed if the client went away first.
 * @module
 */
import type { ServerResponse } from 'node:http';
import type { HttpError } from './http-error.js';
import type { IoBuffers } from './io-buffers.js';
import type { ServerRuntime } from './server-runtime.js';

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
export function writeLeased(io: IoBuffers, res: ServerResponse, text: string, end = false): boolean {
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

/** Answers `status` with `body` as JSON (counted under `route`); nothing is written to a destroyed response. */
export function sendJson(
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

/**
 * Answers with `error`'s status, headers and OpenAI-style JSON body; a response whose headers were
 * sent already (a stream under way) is cut instead.
 */
export function sendError(runtime: ServerRuntime, res: ServerResponse, route: string, error: HttpError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(runtime, res, route, error.status, error.toJSON(), { ...error.headers });
}
