/**
 * A small deterministic generator (mulberry32): floats in [0, 1) from a 32-bit seed, so that a
 * randomized test reproduces from its seed.
 *
 * @param {number} seed any integer; only its low 32 bits matter
 * @returns {() => number}
 */
export function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
