import { describe, expect, expectTypeOf, it } from 'vitest';
import type { JsonValue, StatsSource } from './stats.js';

interface PoolStats {
  readonly capacity: number;
  readonly used: number;
  readonly classes: readonly { readonly size: number; readonly free: number }[];
  readonly name: string;
  readonly shared: boolean;
  readonly lastError: string | null;
}

/** A minimal pool that honours the stats contract. */
class CountingPool implements StatsSource<PoolStats> {
  #used = 0;
  readonly #classes = [
    { size: 64, free: 4 },
    { size: 128, free: 2 },
  ];

  take(): void {
    this.#used += 1;
    const first = this.#classes[0];
    if (first) first.free -= 1;
  }

  stats(): PoolStats {
    return {
      capacity: 8,
      used: this.#used,
      classes: this.#classes.map((entry) => ({ ...entry })),
      name: 'counting',
      shared: false,
      lastError: null,
    };
  }
}

/** `true` if A is assignable to B. */
type Extends<A, B> = [A] extends [B] ? true : false;

describe('StatsSource', () => {
  it('gives a snapshot that survives JSON.stringify and JSON.parse unchanged', () => {
    const snapshot = new CountingPool().stats();
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot);
  });

  it('gives a fresh snapshot each time: mutating one does not affect the source', () => {
    const pool = new CountingPool();
    const before = pool.stats();
    (before.classes[0] as { free: number }).free = 999;
    pool.take();
    const after = pool.stats();
    expect(after.used).toBe(1);
    expect(after.classes[0]?.free).toBe(3);
    expect(before.used).toBe(0);
  });

  it('types a JSON-shaped snapshot as a JsonValue', () => {
    expectTypeOf<Extends<{ a: number; b: readonly string[]; c: { d: null } }, JsonValue>>().toEqualTypeOf<true>();
    expectTypeOf<Extends<Omit<PoolStats, never>, JsonValue>>().toEqualTypeOf<true>();
  });

  it('does not type values that JSON loses as a JsonValue', () => {
    expectTypeOf<Extends<undefined, JsonValue>>().toEqualTypeOf<false>();
    expectTypeOf<Extends<() => void, JsonValue>>().toEqualTypeOf<false>();
    expectTypeOf<Extends<bigint, JsonValue>>().toEqualTypeOf<false>();
    expectTypeOf<Extends<{ at: Date }, JsonValue>>().toEqualTypeOf<false>();
    expectTypeOf<Extends<{ n: number | undefined }, JsonValue>>().toEqualTypeOf<false>();
  });

  it('types stats() as returning the snapshot type', () => {
    expectTypeOf<StatsSource<PoolStats>['stats']>().returns.toEqualTypeOf<PoolStats>();
  });
});
