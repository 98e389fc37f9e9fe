/**
 * A small seeded pseudo-random generator (mulberry32): the same numbers from the same seed on every
 * run and every machine, for the demo's weights and traffic, the benchmarks' workloads and the
 * randomized tests. Not for anything secret.
 *
 * Runs in Node and browsers.
 * @module
 */

/** A deterministic stream of pseudo-random numbers from a 32-bit seed. */
export class SeededRandom {
  #state;
  /** @type {number | undefined} */
  #spareNormal;

  /** @param {number} seed any integer; only its low 32 bits matter */
  constructor(seed) {
    if (!Number.isInteger(seed)) throw new TypeError(`seed must be an integer, got ${String(seed)}`);
    this.#state = seed >>> 0;
  }

  /** @returns {number} the next 32-bit unsigned integer */
  nextUint32() {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** @returns {number} a float uniformly distributed in [0, 1) */
  nextFloat() {
    return this.nextUint32() / 4294967296;
  }

  /**
   * @param {number} min
   * @param {number} max
   * @returns {number} an integer uniformly distributed in [min, max] (both inclusive)
   */
  nextInt(min, max) {
    return min + Math.floor(this.nextFloat() * (max - min + 1));
  }

  /** @returns {number} a standard normal sample (Box-Muller; the second value of each pair is kept for the next call) */
  nextNormal() {
    if (this.#spareNormal !== undefined) {
      const spare = this.#spareNormal;
      this.#spareNormal = undefined;
      return spare;
    }
    // 1 - u keeps the logarithm's argument in (0, 1].
    const u = 1 - this.nextFloat();
    const v = this.nextFloat();
    const radius = Math.sqrt(-2 * Math.log(u));
    this.#spareNormal = radius * Math.sin(2 * Math.PI * v);
    return radius * Math.cos(2 * Math.PI * v);
  }
}
