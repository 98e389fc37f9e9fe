/**
 * Byte-level tokenization: a token is a byte (0-255) of the prompt's UTF-8 encoding, and
 * completions decode back through a streaming UTF-8 decoder.
 *
 * Runs in Node and browsers.
 * @module
 */

const encoder = new TextEncoder();

/** The number of token ids: one per byte value. */
export const BYTE_TOKENS = 256;

/** The token ids of a text prompt: its UTF-8 bytes. */
export function encodeText(text: string): Uint8Array {
  return encoder.encode(text);
}

/**
 * The tokens the demo samples from: printable ASCII (32-126) and newline. The weights are random,
 * so without this mask greedy decoding emits control bytes and broken UTF-8; with it, completions
 * are readable (if meaningless) text. The mask applies to sampling only, never to prompts.
 */
export const PRINTABLE_TOKENS: Uint8Array = (() => {
  const mask = new Uint8Array(256);
  for (let byte = 32; byte <= 126; byte++) mask[byte] = 1;
  mask[10] = 1;
  return mask;
})();

/** Decodes a stream of byte tokens to text, holding back an incomplete UTF-8 sequence until it completes. */
export class TokenDecoder {
  readonly #decoder = new TextDecoder('utf-8', { fatal: false });
  readonly #one = new Uint8Array(1);

  /** The text that `token` completes (empty while a multi-byte character is incomplete). */
  push(token: number): string {
    this.#one[0] = token;
    return this.#decoder.decode(this.#one, { stream: true });
  }

  /** Flushes what is held back (as U+FFFD if the stream ended inside a character). */
  end(): string {
    return this.#decoder.decode();
  }
}

/** Decodes a whole token list to text. */
export function decodeTokens(tokens: ArrayLike<number>): string {
  return new TextDecoder('utf-8', { fatal: false }).decode(Uint8Array.from(tokens as ArrayLike<number>));
}
