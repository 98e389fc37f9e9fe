/**
 * Reading a request's JSON body: into one leased I/O buffer, bounded by the runtime's
 * `maxBodyBytes`, then parsed; the buffer goes back as soon as the JSON is parsed. A body over the
 * limit is refused with 413 as soon as that is known: from `content-length` before a byte is read
 * when the client declares it, otherwise when the bytes read pass the limit; the rest of it is read
 * and dropped, so that the client can finish sending and read the answer.
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { HttpError } from './http-error.js';
import type { ServerRuntime } from './server-runtime.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses raw body bytes as a JSON value.
 * @throws HttpError 400 for bytes that are not UTF-8, empty or not JSON.
 */
export function parseJsonBody(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    throw new HttpError(400, 'the body is not valid UTF-8');
  }
  if (text.trim().length === 0) throw new HttpError(400, 'the body is empty; expected a JSON object');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new HttpError(400, `the body is not valid JSON: ${(error as Error).message}`);
  }
}

function tooLarge(limit: number, declared?: string): HttpError {
  const body = declared === undefined ? 'the body' : `the body (${declared} bytes)`;
  return new HttpError(413, `${body} is larger than the limit of ${limit} bytes`, { code: 'request_too_large' });
}

/** A refused body is read and dropped up to this many bytes; past it the connection is cut. */
const DISCARD_LIMIT = 64 << 20;

/**
 * The rest of a refused body is read and dropped rather than cut off: a connection closed while the
 * client still sends makes the client's write fail (EPIPE, or a reset), and clients then report a
 * connection error instead of the 413 they were sent. Once the body is drained the connection
 * serves the next request. A client that sends more than {@link DISCARD_LIMIT} is cut off.
 */
function discardRest(req: IncomingMessage): void {
  req.removeAllListeners('data');
  let discarded = 0;
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > DISCARD_LIMIT) req.destroy();
  });
}

/**
 * Reads the body into one leased buffer of at most `maxBodyBytes` and parses it as JSON. Rejects
 * with a 413 {@link HttpError} for a body over the limit (declared or read), a 400 for a body that
 * is not JSON or a connection closed before the body ended.
 */
export function readJsonBody(runtime: ServerRuntime, req: IncomingMessage): Promise<unknown> {
  const limit = runtime.maxBodyBytes;
  const declared = req.headers['content-length'];
  const declaredLength = declared === undefined ? NaN : Number(declared);
  if (declaredLength > limit) {
    discardRest(req);
    return Promise.reject(tooLarge(limit, declared));
  }
  return new Promise((resolve, reject) => {
    // A declared length sizes the buffer exactly; a chunked body gets room for the largest accepted body.
    const lease = runtime.io.lease(Number.isInteger(declaredLength) ? Math.max(1, declaredLength) : limit);
    let length = 0;
    let settled = false;
    const finish = (action: () => void): void => {
      if (settled) return;
      settled = true;
      lease.release();
      action();
    };
    req.on('data', (chunk: Buffer) => {
      if (length + chunk.length > lease.bytes.length) {
        discardRest(req);
        finish(() => reject(tooLarge(limit)));
        return;
      }
      lease.bytes.set(chunk, length);
      length += chunk.length;
    });
    // Parsing reads the leased bytes; the buffer goes back as soon as the JSON is parsed.
    req.on('end', () =>
      finish(() => {
        try {
          resolve(parseJsonBody(lease.bytes.subarray(0, length)));
        } catch (error) {
          reject(error);
        }
      }),
    );
    req.on('error', (error) => finish(() => reject(error)));
    req.on('close', () =>
      finish(() => reject(new HttpError(400, 'the client closed the connection before the body ended'))),
    );
  });
}
