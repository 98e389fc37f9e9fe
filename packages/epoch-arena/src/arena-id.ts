/**
 * Arena ids: the 6-bit field of a handle that tells which arena issued it.
 *
 * This module is browser compatible.
 * @module
 */
import { MAX_ARENA_ID } from './handle-layout.js';

// A random start makes it unlikely that two workers, each counting from the same value, give the
// same id to arenas whose handles later meet.
let nextId = 1 + Math.floor(Math.random() * MAX_ARENA_ID);

/**
 * Takes `count` consecutive ids (wrapping from 63 to 1), distinct from each other when
 * `count <= 63`. Cost: O(count).
 */
export function takeArenaIds(count: number): number[] {
  const ids: number[] = [];
  for (let i = 0; i < count; i += 1) {
    ids.push(nextId);
    nextId = nextId === MAX_ARENA_ID ? 1 : nextId + 1;
  }
  return ids;
}

/** Takes one id. Cost: O(1). */
export function takeArenaId(): number {
  return takeArenaIds(1)[0]!;
}
