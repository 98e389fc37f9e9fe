/**
 * Stop sequences on a stream of tokens: a token that could begin a stop sequence is held back until
 * it is clear whether the sequence follows, so that a client never sees any part of the sequence
 * that ended its completion, streamed or not (OpenAI's behaviour).
 *
 * Runs in Node and browsers.
 * @module
 */

/** What one token released. */
export interface StopMatch {
  /** Tokens that can no longer be part of a stop sequence, in order: emit them. */
  readonly released: readonly number[];
  /** Whether the output now ends with a stop sequence (its tokens are not released). */
  readonly stopped: boolean;
}

/** Matches a request's generated tokens against its stop sequences. */
export class StopMatcher {
  readonly #sequences: readonly Uint8Array[];
  readonly #held: number[] = [];

  /** Matches against `sequences` (each at least one token). */
  constructor(sequences: readonly Uint8Array[]) {
    this.#sequences = sequences;
  }

  /**
   * Adds the next generated token. The held tokens are always the longest tail of the output that
   * begins some stop sequence, so a sequence ending at this token lies within them and this token.
   * Cost: O(held tokens x total stop length).
   */
  push(token: number): StopMatch {
    const held = this.#held;
    held.push(token);
    let matched = 0;
    for (const sequence of this.#sequences) {
      if (sequence.length > matched && endsWith(held, sequence)) matched = sequence.length;
    }
    if (matched > 0) {
      // Of the sequences that end here, the longest starts first: the text ends before it.
      const released = held.slice(0, held.length - matched);
      held.length = 0;
      return { released, stopped: true };
    }
    let keep = held.length;
    while (keep > 0 && !this.#sequences.some((sequence) => beginsWithTail(sequence, held, keep))) keep--;
    const released = held.splice(0, held.length - keep);
    return { released, stopped: false };
  }

  /** The held tokens, released at the end of a completion that no stop sequence ended. */
  flush(): number[] {
    return this.#held.splice(0, this.#held.length);
  }
}

function endsWith(tokens: readonly number[], sequence: Uint8Array): boolean {
  const start = tokens.length - sequence.length;
  if (start < 0) return false;
  for (let i = 0; i < sequence.length; i++) if (tokens[start + i] !== sequence[i]) return false;
  return true;
}

/** Whether `sequence` begins with the last `length` tokens of `tokens` (a strict prefix). */
function beginsWithTail(sequence: Uint8Array, tokens: readonly number[], length: number): boolean {
  if (length >= sequence.length) return false;
  const start = tokens.length - length;
  for (let i = 0; i < length; i++) if (sequence[i] !== tokens[start + i]) return false;
  return true;
}
