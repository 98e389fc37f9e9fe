/**
 * Errors that become an HTTP answer, in the OpenAI error shape
 * (`{"error": {"message", "type", "param", "code"}}`), so that OpenAI clients show them as they are.
 * @module
 */

/** A request the server refuses, with the status and the body to answer it with. */
export class HttpError extends Error {
  /** The HTTP status (4xx for the client's fault, 5xx for the server's). */
  readonly status: number;
  /** The OpenAI error type, e.g. `invalid_request_error`. */
  readonly type: string;
  /** The request field at fault, if any. */
  readonly param: string | null;
  /** A machine-readable code, e.g. `context_length_exceeded`. */
  readonly code: string | null;
  /** Extra headers of the answer (`Allow` for 405, `Retry-After` for 503). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    message: string,
    options: { type?: string; param?: string; code?: string; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.type = options.type ?? (status >= 500 ? 'server_error' : 'invalid_request_error');
    this.param = options.param ?? null;
    this.code = options.code ?? null;
    this.headers = options.headers ?? {};
  }

  /** The JSON body of the answer. */
  toJSON(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}
