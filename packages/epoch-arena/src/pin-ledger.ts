/**
 * `PinLedger`: the pins one pool object ({@link ArenaRing}) holds on the arenas of its pool, so
 * that they can all be dropped at once when that object closes, is garbage-collected or its worker
 * exits.
 *
 * This module is browser compatible.
 * @module
 */
import { RECORD_PINS, recordWord } from './pool-state.js';

/**
 * Counts the pins taken through one pool object, arena by arena, beside the shared pin counts.
 * Once closed it drops every pin it still records and takes no more: a guard released after that
 * does nothing, so it can never take away a pin that another guard holds.
 */
export class PinLedger {
  readonly #state: Int32Array;
  #counts: Int32Array;
  #open = true;

  /** @param state the pool's state words */
  constructor(state: Int32Array) {
    this.#state = state;
    this.#counts = new Int32Array(8);
  }

  /** Whether the ledger still takes and gives back pins. */
  get open(): boolean {
    return this.#open;
  }

  /** Adds a pin on arena `index`. Cost: one atomic add. */
  pin(index: number): void {
    if (index >= this.#counts.length) {
      const grown = new Int32Array(Math.max(index + 1, 2 * this.#counts.length));
      grown.set(this.#counts);
      this.#counts = grown;
    }
    this.#counts[index]! += 1;
    Atomics.add(this.#state, recordWord(index, RECORD_PINS), 1);
  }

  /**
   * Takes back one pin on arena `index`; returns the pins left on it in the whole pool, or -1 if
   * the ledger is closed (the pin was dropped already). Cost: one atomic subtraction.
   */
  unpin(index: number): number {
    if (!this.#open) return -1;
    this.#counts[index]! -= 1;
    return Atomics.sub(this.#state, recordWord(index, RECORD_PINS), 1) - 1;
  }

  /**
   * Drops every pin still recorded and closes the ledger; returns the arenas whose pins reached
   * zero. Closing twice does nothing. Cost: O(arenas).
   */
  close(): number[] {
    if (!this.#open) return [];
    this.#open = false;
    const freed: number[] = [];
    this.#counts.forEach((count, index) => {
      if (count > 0 && Atomics.sub(this.#state, recordWord(index, RECORD_PINS), count) === count) freed.push(index);
    });
    this.#counts.fill(0);
    return freed;
  }
}
