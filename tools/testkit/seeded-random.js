import { SeededRandom } from '@mem/app-kit/seeded-random';

/**
 * A deterministic generator of floats in [0, 1) from a 32-bit seed (the kit's one generator,
 * `SeededRandom` of `@mem/app-kit`), so that a randomized test reproduces from its seed.
 *
 * @param {number} seed any integer; only its low 32 bits matter
 * @returns {() => number}
 */
export function seededRandom(seed) {
  const random = new SeededRandom(seed);
  return () => random.nextFloat();
}
