/** The `p`-th percentile (0-100) of `values` by the nearest-rank method; NaN when empty. */
export declare function percentile(values: readonly number[], p: number): number;
