/** A deterministic stream of pseudo-random numbers (mulberry32) from a 32-bit seed. */
export declare class SeededRandom {
  /** Starts the stream at `seed` (any integer; only its low 32 bits matter). */
  constructor(seed: number);
  /** The next 32-bit unsigned integer. */
  nextUint32(): number;
  /** A float uniformly distributed in [0, 1). */
  nextFloat(): number;
  /** An integer uniformly distributed in [min, max] (both inclusive). */
  nextInt(min: number, max: number): number;
  /** A standard normal sample. */
  nextNormal(): number;
}
