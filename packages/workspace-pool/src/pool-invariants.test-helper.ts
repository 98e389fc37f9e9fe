/**
 * Checks shared by the tests: the invariants of a memory map, fragmentation computed from a
 * snapshot's blocks alone (independently of the pool's own figures), and byte patterns.
 */
import { expect } from 'vitest';
import type { MemoryMapSnapshot } from './memory-map.js';

/** Asserts every structural invariant of a memory map. */
export function checkMemoryMap(snapshot: MemoryMapSnapshot): void {
  let reserved = 0;
  let inUse = 0;
  let free = 0;
  let live = 0;
  const owners = new Set<number>();
  for (const segment of snapshot.segments) {
    reserved += segment.byteLength;
    let cursor = 0;
    let previousFree = false;
    let segmentUsed = 0;
    let segmentFree = 0;
    for (const block of segment.blocks) {
      expect(block.offset, `segment ${segment.index}: blocks tile the segment`).toBe(cursor);
      expect(block.size).toBeGreaterThan(0);
      expect(block.size % snapshot.alignment, 'block sizes are multiples of the alignment').toBe(0);
      cursor += block.size;
      if (block.state === 'free') {
        expect(previousFree, `segment ${segment.index}: no two free blocks side by side at ${block.offset}`).toBe(
          false,
        );
        expect(block.owner).toBeNull();
        segmentFree += block.size;
        previousFree = true;
        continue;
      }
      previousFree = false;
      segmentUsed += block.size;
      live += 1;
      expect(block.owner).not.toBeNull();
      expect(owners.has(block.owner!), `owner ${block.owner} appears once`).toBe(false);
      owners.add(block.owner!);
      expect(block.requested).toBeGreaterThan(0);
      expect(block.requested!).toBeLessThanOrEqual(block.size);
    }
    expect(cursor, `segment ${segment.index} is covered exactly`).toBe(segment.byteLength);
    expect(segment.bytesInUse).toBe(segmentUsed);
    expect(segment.bytesFree).toBe(segmentFree);
    inUse += segmentUsed;
    free += segmentFree;
  }
  expect(snapshot.bytesReserved).toBe(reserved);
  expect(snapshot.bytesInUse).toBe(inUse);
  expect(snapshot.bytesFree).toBe(free);
  expect(snapshot.liveWorkspaces).toBe(live);
  expect(inUse + free).toBe(reserved);
}

/** Fragmentation of a snapshot, computed from its blocks only. */
export function fragmentationOf(snapshot: MemoryMapSnapshot): {
  overall: number;
  perSegment: number[];
  largest: number;
} {
  let total = 0;
  let largest = 0;
  const perSegment = snapshot.segments.map((segment) => {
    let segmentTotal = 0;
    let segmentLargest = 0;
    for (const block of segment.blocks) {
      if (block.state !== 'free') continue;
      segmentTotal += block.size;
      segmentLargest = Math.max(segmentLargest, block.size);
    }
    total += segmentTotal;
    largest = Math.max(largest, segmentLargest);
    return segmentTotal === 0 ? 0 : 1 - segmentLargest / segmentTotal;
  });
  return { overall: total === 0 ? 0 : 1 - largest / total, perSegment, largest };
}

/** The byte at `index` of the pattern of workspace `seed`. */
export function patternByte(seed: number, index: number): number {
  return (seed * 31 + index * 7 + (index >>> 8)) & 0xff;
}

/** Fills `bytes` with the pattern of `seed`. */
export function fillPattern(bytes: Uint8Array, seed: number): void {
  for (let i = 0; i < bytes.length; i += 1) bytes[i] = patternByte(seed, i);
}

/** The index of the first byte of `bytes` that differs from the pattern of `seed`, or -1. */
export function firstPatternMismatch(bytes: Uint8Array, seed: number): number {
  for (let i = 0; i < bytes.length; i += 1) if (bytes[i] !== patternByte(seed, i)) return i;
  return -1;
}
