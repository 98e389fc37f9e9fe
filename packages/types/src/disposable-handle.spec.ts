import { describe, expect, it } from 'vitest';
import { DisposableHandle } from './disposable-handle.js';
import { expectMemError } from '@mem/testkit/expect-mem-error';

/** A handle over one slot of a tiny pool, recording what it gave back. */
class SlotHandle extends DisposableHandle {
  releases = 0;
  failNextRelease = false;

  constructor(
    readonly slot: number,
    private readonly freed: number[] = [],
  ) {
    super();
  }

  read(): number {
    this.assertLive();
    return this.slot;
  }

  protected onRelease(): void {
    if (this.failNextRelease) {
      this.failNextRelease = false;
      throw new Error('pool refused the slot');
    }
    this.releases += 1;
    this.freed.push(this.slot);
  }
}

class NamedHandle extends SlotHandle {
  protected override describe(): string {
    return `slot ${this.slot} of 64 bytes`;
  }
}

describe('DisposableHandle', () => {
  it('starts live and can be used', () => {
    const handle = new SlotHandle(3);
    expect(handle.released).toBe(false);
    expect(handle.read()).toBe(3);
  });

  it('releases once, running onRelease once', () => {
    const freed: number[] = [];
    const handle = new SlotHandle(3, freed);
    handle.release();
    expect(handle.released).toBe(true);
    expect(handle.releases).toBe(1);
    expect(freed).toEqual([3]);
  });

  it('throws DOUBLE_FREE on a second release, naming the handle, without running onRelease again', () => {
    const handle = new SlotHandle(3);
    handle.release();
    const error = expectMemError(() => handle.release(), 'DOUBLE_FREE');
    expect(error.message).toBe('SlotHandle was already released');
    expect(handle.releases).toBe(1);
    expect(handle.released).toBe(true);
  });

  it('throws USE_AFTER_RELEASE from assertLive once released', () => {
    const handle = new SlotHandle(3);
    handle.release();
    const error = expectMemError(() => handle.read(), 'USE_AFTER_RELEASE');
    expect(error.message).toBe('SlotHandle was used after release');
  });

  it('names the handle in errors with what describe returns', () => {
    const handle = new NamedHandle(7);
    handle.release();
    expect(expectMemError(() => handle.release(), 'DOUBLE_FREE').message).toBe(
      'slot 7 of 64 bytes was already released',
    );
    expect(expectMemError(() => handle.read(), 'USE_AFTER_RELEASE').message).toBe(
      'slot 7 of 64 bytes was used after release',
    );
  });

  it('is released by a using declaration at the end of its scope', () => {
    const freed: number[] = [];
    let seen: SlotHandle;
    {
      using handle = new SlotHandle(5, freed);
      seen = handle;
      expect(handle.read()).toBe(5);
      expect(freed).toEqual([]);
    }
    expect(seen.released).toBe(true);
    expect(freed).toEqual([5]);
  });

  it('releases handles of a using scope in reverse order, even when the scope throws', () => {
    const freed: number[] = [];
    expect(() => {
      using first = new SlotHandle(1, freed);
      using second = new SlotHandle(2, freed);
      expect(first.read() + second.read()).toBe(3);
      throw new Error('work failed');
    }).toThrow('work failed');
    expect(freed).toEqual([2, 1]);
  });

  it('does nothing at scope end when the handle was released explicitly', () => {
    const freed: number[] = [];
    {
      using handle = new SlotHandle(9, freed);
      handle.release();
    }
    expect(freed).toEqual([9]);
  });

  it('does nothing when disposed after an explicit release', () => {
    const handle = new SlotHandle(9);
    handle.release();
    expect(() => handle[Symbol.dispose]()).not.toThrow();
    expect(handle.releases).toBe(1);
  });

  it('stays live when onRelease throws, and can be released again', () => {
    const freed: number[] = [];
    const handle = new SlotHandle(4, freed);
    handle.failNextRelease = true;
    expect(() => handle.release()).toThrow('pool refused the slot');
    expect(handle.released).toBe(false);
    expect(handle.read()).toBe(4);
    handle.release();
    expect(handle.released).toBe(true);
    expect(freed).toEqual([4]);
  });

  it('propagates an onRelease failure from dispose, and the handle stays live', () => {
    const handle = new SlotHandle(4);
    handle.failNextRelease = true;
    expect(() => handle[Symbol.dispose]()).toThrow('pool refused the slot');
    expect(handle.released).toBe(false);
  });

  it('implements Disposable', () => {
    const disposable: Disposable = new SlotHandle(1);
    expect(typeof disposable[Symbol.dispose]).toBe('function');
  });
});
