import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteBudgetLru } from './byte-budget-lru.js';

describe('ByteBudgetLru', () => {
  it('evicts the least recently added entries first once the bytes pass the budget', () => {
    const lru = new ByteBudgetLru<string>(10);
    expect(lru.add('a', 4, 'A')).toEqual([]);
    expect(lru.add('b', 4, 'B')).toEqual([]);
    expect(lru.add('c', 4, 'C')).toEqual([{ key: 'a', value: 'A' }]);
    expect([lru.size, lru.bytes]).toEqual([2, 8]);
  });

  it('counts use() as a use and has() not', () => {
    const lru = new ByteBudgetLru<string>(8);
    lru.add('a', 4, 'A');
    lru.add('b', 4, 'B');
    expect(lru.use('a')).toBe('A'); // b is now the oldest
    expect(lru.add('c', 4, 'C')).toEqual([{ key: 'b', value: 'B' }]);
    expect(lru.has('a')).toBe(true); // not a use: a stays the oldest
    expect(lru.add('d', 4, 'D')).toEqual([{ key: 'a', value: 'A' }]);
    expect(lru.use('a')).toBeUndefined();
  });

  it('replaces a key in place of the newest, returning the replaced value and fixing the bytes', () => {
    const lru = new ByteBudgetLru<string>(10);
    lru.add('a', 4, 'A');
    lru.add('b', 4, 'B');
    expect(lru.add('a', 6, 'A2')).toEqual([{ key: 'a', value: 'A' }]);
    expect([lru.size, lru.bytes]).toEqual([2, 10]);
    expect(lru.add('c', 1, 'C')).toEqual([{ key: 'b', value: 'B' }]);
  });

  it('does not keep an entry larger than the whole budget, and evicts nothing for it', () => {
    const lru = new ByteBudgetLru<string>(10);
    lru.add('a', 4, 'A');
    expect(lru.add('huge', 11, 'H')).toEqual([]);
    expect(lru.add('a', 11, 'A2')).toEqual([{ key: 'a', value: 'A' }]); // the replaced one goes
    expect([lru.size, lru.bytes, lru.has('huge'), lru.has('a')]).toEqual([0, 0, false, false]);
  });

  it('delete returns the value and gives its bytes back', () => {
    const lru = new ByteBudgetLru<number>(10);
    lru.add('a', 3, 1);
    expect(lru.delete('a')).toBe(1);
    expect(lru.delete('a')).toBeUndefined();
    expect([lru.size, lru.bytes]).toEqual([0, 0]);
  });

  it('matches a list in recency order under random adds, uses, lookups and deletes', () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('add' as const),
        key: fc.integer({ min: 0, max: 7 }),
        bytes: fc.integer({ min: 0, max: 40 }),
      }),
      fc.record({
        kind: fc.constantFrom('use' as const, 'has' as const, 'delete' as const),
        key: fc.integer({ min: 0, max: 7 }),
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.array(op, { maxLength: 60 }), (budget, ops) => {
        const lru = new ByteBudgetLru<number>(budget);
        let model: { key: string; bytes: number; value: number }[] = []; // oldest first
        ops.forEach((step, value) => {
          const key = String(step.key);
          const at = model.findIndex((entry) => entry.key === key);
          if (step.kind === 'add') {
            const expected = at < 0 ? [] : [{ key, value: model[at]!.value }];
            if (at >= 0) model.splice(at, 1);
            if (step.bytes <= budget) {
              model.push({ key, bytes: step.bytes, value });
              while (model.reduce((sum, entry) => sum + entry.bytes, 0) > budget) {
                const oldest = model.shift()!;
                expected.push({ key: oldest.key, value: oldest.value });
              }
            }
            expect(lru.add(key, step.bytes, value)).toEqual(expected);
          } else if (step.kind === 'use') {
            expect(lru.use(key)).toBe(at < 0 ? undefined : model[at]!.value);
            if (at >= 0) model.push(...model.splice(at, 1));
          } else if (step.kind === 'has') {
            expect(lru.has(key)).toBe(at >= 0);
          } else {
            expect(lru.delete(key)).toBe(at < 0 ? undefined : model[at]!.value);
            if (at >= 0) model = model.filter((entry) => entry.key !== key);
          }
          expect(lru.size).toBe(model.length);
          expect(lru.bytes).toBe(model.reduce((sum, entry) => sum + entry.bytes, 0));
          expect(lru.bytes).toBeLessThanOrEqual(budget);
        });
      }),
    );
  });
});
