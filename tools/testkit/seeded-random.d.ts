/** A deterministic generator (mulberry32) of floats in [0, 1) from a 32-bit seed. */
export declare function seededRandom(seed: number): () => number;
