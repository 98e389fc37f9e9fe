/**
 * What the pool does when the runtime refuses memory: the documented `EXHAUSTED`, and nothing
 * changed. The refusal is real: the test lowers this process's address-space limit (Linux
 * `prlimit`) just above what it already maps, so that a new backing segment cannot be mapped, and
 * restores it at once.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { BufferPool } from './buffer-pool.js';
import { BufferPoolConfig } from './buffer-pool-config.js';

const gib = 2 ** 30;
/** Classes of 1 GiB: every buffer is a segment of its own. */
const huge = BufferPoolConfig.from({ minSize: gib, maxSize: gib, maxPerClass: 4 });

function hasPrlimit(): boolean {
  if (process.platform !== 'linux') return false;
  try {
    execFileSync('prlimit', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function addressSpaceLimit(): string {
  const line = execFileSync('prlimit', [`--pid=${process.pid}`, '--as', '--raw', '--noheadings', '--output=SOFT'], {
    encoding: 'utf8',
  });
  return line.trim();
}

/** Runs `action` with the address space limited to what is mapped now plus 256 MiB. */
function withLittleAddressSpace(action: () => void): void {
  const previous = addressSpaceLimit();
  const mapped = Number(/VmSize:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
  execFileSync('prlimit', [`--pid=${process.pid}`, `--as=${mapped + 256 * 2 ** 20}:`]);
  try {
    action();
  } finally {
    execFileSync('prlimit', [`--pid=${process.pid}`, `--as=${previous}:`]);
  }
}

describe.skipIf(!hasPrlimit())('when the runtime refuses memory', () => {
  it('new BufferPool throws EXHAUSTED when a shared pool cannot reserve its segments, or a prefilled one allocate them', () => {
    withLittleAddressSpace(() => {
      expectMemError(() => BufferPool.createShared(huge, { leakDetection: 'off' }), 'EXHAUSTED');
      expectMemError(() => new BufferPool(huge.withPrefill(true), { leakDetection: 'off' }), 'EXHAUSTED');
    });
  });

  it('BufferPool.alloc, tryAlloc, allocZeroed and tryAllocZeroed throw EXHAUSTED when a new segment is refused, creating nothing', () => {
    const pool = new BufferPool(huge, { leakDetection: 'off' });
    withLittleAddressSpace(() => {
      expectMemError(() => pool.alloc(gib), 'EXHAUSTED');
      expectMemError(() => pool.tryAlloc(gib), 'EXHAUSTED');
      expectMemError(() => pool.allocZeroed(gib), 'EXHAUSTED');
      expectMemError(() => pool.tryAllocZeroed(gib), 'EXHAUSTED');
    });
    expect(pool.stats().classes[0]).toMatchObject({ created: 0, inUse: 0 });
    expect(pool.stats().reservedBytes).toBe(0);
  });
});
