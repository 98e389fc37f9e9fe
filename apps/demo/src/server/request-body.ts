/**
 * Reading a completion request's body: into one leased I/O buffer, bounded by the runtime's
 * `maxBodyBytes`, then parsed and validated; the buffer goes back as soon as the request is.
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { parseCompletionBody, type CompletionRequest } from './completion-request.js';
import { HttpError } from './http-error.js';
import type { ServerRuntime } from './server-runtime.js';

/** A too-large body is read and discarded up to this many bytes (so the client can read the 413), then the connection is cut. */
const DISCARD_LIMIT_FACTOR = 16;

/**
 * Reads the body into one leased buffer of `maxBodyBytes`, then parses it. A body over the limit is
 * answered 413 (after it was discarded, so the client can read the answer, or by cutting the
 * connection if it keeps going).
 */
export function readBody(runtime: ServerRuntime, req: IncomingMessage): Promise<CompletionRequest> {
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
