/**
 * The native baselines every package suite compares against: allocate-and-drop of each native
 * kind of memory at 64 B, 1 KiB, 4 KiB, 64 KiB and 1 MiB.
 */
import { consume } from '../blackhole.js';
import type { BenchImpl, Suite } from '../suite.js';

/** The sizes every suite measures its baselines at. */
export const NATIVE_SIZES = [64, 1024, 4096, 65536, 1 << 20] as const;

/** A readable size: `64 B`, `4 KiB`, `1 MiB`. */
export function formatSize(bytes: number): string {
  if (bytes >= 1 << 20 && bytes % (1 << 20) === 0) return `${bytes / (1 << 20)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

/** Allocate-and-drop loops of the native allocators at `size` bytes, for reuse by other suites. */
export function nativeAllocators(size: number): BenchImpl[] {
  const loop =
    (allocate: (size: number) => { byteLength: number }) =>
    (iterations: number): number => {
      let total = 0;
      for (let i = 0; i < iterations; i += 1) {
        const memory = allocate(size);
        consume(memory);
        total += memory.byteLength;
      }
      return total;
    };
  return [
    { name: 'new ArrayBuffer', run: loop((n) => new ArrayBuffer(n)) },
    { name: 'new Uint8Array', run: loop((n) => new Uint8Array(n)) },
    { name: 'Buffer.alloc', run: loop((n) => Buffer.alloc(n)) },
    { name: 'Buffer.allocUnsafe', run: loop((n) => Buffer.allocUnsafe(n)) },
    { name: 'new SharedArrayBuffer', run: loop((n) => new SharedArrayBuffer(n)) },
  ];
}

const suite: Suite = {
  name: 'native',
  description: 'allocate-and-drop of native ArrayBuffer, Uint8Array, Buffer and SharedArrayBuffer',
  async run(context) {
    for (const size of NATIVE_SIZES) {
      await context.compare(`allocate ${formatSize(size)}`, nativeAllocators(size));
    }
  },
};

export default suite;
