import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { runWorkers } from '@mem/testkit';
import { BackingMemory, WASM_PAGE_SIZE, type BackingMemoryDescriptor } from './backing-memory.js';
import type { BackingWorkerAnswer, BackingWorkerJob } from './backing-memory.test-worker.js';
import { describeValue } from './describe-value.js';
import { expectMemError } from '@mem/testkit/expect-mem-error';

/** Calls `fn` and returns the MemError it throws, checking its code. */
const BAD_SIZES: [string, unknown][] = [
  ['negative', -1],
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['-Infinity', Number.NEGATIVE_INFINITY],
  ['fractional', 1.5],
  ['huge (2^53)', 2 ** 53],
  ['a numeric string', '12'],
  ['null', null],
  ['undefined', undefined],
  ['an object', {}],
  ['a bigint', 12n],
];

/** A typed-array constructor, as typedView takes it. */
type ViewType = {
  readonly BYTES_PER_ELEMENT: number;
  new (buffer: ArrayBuffer | SharedArrayBuffer, byteOffset: number, length: number): ArrayBufferView;
};

function wasmMemory(initial = 1, maximum = 3): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial, maximum });
}

function sharedWasmMemory(initial = 1, maximum = 4): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial, maximum, shared: true });
}

describe('BackingMemory.allocate', () => {
  it('allocates zeroed, non-shared ArrayBuffer memory by default', () => {
    const memory = BackingMemory.allocate(64);
    expect(memory.kind).toBe('array-buffer');
    expect(memory.isShared).toBe(false);
    expect(memory.byteLength).toBe(64);
    expect(memory.buffer).toBeInstanceOf(ArrayBuffer);
    expect(memory.source).toBe(memory.buffer);
    expect(memory.generation).toBe(0);
    expect([...memory.bytes()]).toEqual(new Array(64).fill(0));
  });

  it('allocates SharedArrayBuffer memory when asked to share', () => {
    const memory = BackingMemory.allocate(64, { shared: true });
    expect(memory.kind).toBe('shared-array-buffer');
    expect(memory.isShared).toBe(true);
    expect(memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(memory.byteLength).toBe(64);
  });

  it('allocates non-shared memory when shared is false', () => {
    expect(BackingMemory.allocate(8, { shared: false }).kind).toBe('array-buffer');
  });

  it('allocates empty memory of 0 bytes', () => {
    expect(BackingMemory.allocate(0).byteLength).toBe(0);
  });

  it.each(BAD_SIZES)('rejects a byteLength that is %s with INVALID_ARGUMENT naming it', (_label, value) => {
    const error = expectMemError(() => BackingMemory.allocate(value as number), 'INVALID_ARGUMENT');
    expect(error.message).toContain('byteLength');
    expect(error.message).toContain(describeValue(value));
  });

  it.each([
    ['a string', 'yes'],
    ['a number', 1],
  ])('rejects a shared option that is %s', (_label, shared) => {
    const error = expectMemError(
      () => BackingMemory.allocate(8, { shared } as unknown as { shared: boolean }),
      'INVALID_ARGUMENT',
    );
    expect(error.message).toContain(describeValue(shared));
  });

  it('reports EXHAUSTED with the runtime error as cause when the runtime cannot allocate', () => {
    for (const shared of [false, true]) {
      const error = expectMemError(() => BackingMemory.allocate(Number.MAX_SAFE_INTEGER, { shared }), 'EXHAUSTED');
      expect(error.cause).toBeInstanceOf(RangeError);
      expect(error.details).toEqual({ byteLength: Number.MAX_SAFE_INTEGER });
    }
  });
});

describe('BackingMemory.wrap', () => {
  it('wraps an ArrayBuffer without copying it', () => {
    const buffer = new ArrayBuffer(16);
    const memory = BackingMemory.wrap(buffer);
    expect(memory.kind).toBe('array-buffer');
    expect(memory.source).toBe(buffer);
    expect(memory.buffer).toBe(buffer);
    new Uint8Array(buffer)[3] = 42;
    expect(memory.bytes()[3]).toBe(42);
  });

  it('wraps a SharedArrayBuffer without copying it', () => {
    const buffer = new SharedArrayBuffer(16);
    const memory = BackingMemory.wrap(buffer);
    expect(memory.kind).toBe('shared-array-buffer');
    expect(memory.isShared).toBe(true);
    memory.bytes()[5] = 7;
    expect(new Uint8Array(buffer)[5]).toBe(7);
  });

  it('wraps a non-shared WebAssembly.Memory', () => {
    const wasm = wasmMemory();
    const memory = BackingMemory.wrap(wasm);
    expect(memory.kind).toBe('wasm-memory');
    expect(memory.isShared).toBe(false);
    expect(memory.source).toBe(wasm);
    expect(memory.buffer).toBe(wasm.buffer);
    expect(memory.byteLength).toBe(WASM_PAGE_SIZE);
  });

  it('wraps a shared WebAssembly.Memory and reports it shared', () => {
    const memory = BackingMemory.wrap(sharedWasmMemory());
    expect(memory.kind).toBe('wasm-memory');
    expect(memory.isShared).toBe(true);
    expect(memory.buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it.each([
    ['null', null],
    ['undefined', undefined],
    ['a number', 16],
    ['a string', '16'],
    ['a plain object', { byteLength: 16 }],
    ['a typed array (a view, not a buffer)', new Uint8Array(16)],
    ['a DataView', new DataView(new ArrayBuffer(16))],
  ])('rejects %s with INVALID_ARGUMENT naming it', (_label, source) => {
    const error = expectMemError(() => BackingMemory.wrap(source as unknown as ArrayBuffer), 'INVALID_ARGUMENT');
    expect(error.message).toContain(describeValue(source));
  });

  it('rejects a detached ArrayBuffer', () => {
    const buffer = new ArrayBuffer(16);
    structuredClone(buffer, { transfer: [buffer] });
    expect(buffer.byteLength).toBe(0);
    expectMemError(() => BackingMemory.wrap(buffer), 'INVALID_ARGUMENT');
  });
});

describe('BackingMemory.bytes, view and typedView', () => {
  it('returns the same bytes view until the buffer changes', () => {
    const memory = BackingMemory.allocate(32);
    expect(memory.bytes()).toBe(memory.bytes());
  });

  it('returns a view that aliases the memory', () => {
    const memory = BackingMemory.allocate(32);
    const view = memory.view(8, 4);
    expect(view.byteOffset).toBe(8);
    expect(view.length).toBe(4);
    view.set([1, 2, 3, 4]);
    expect([...memory.bytes().subarray(8, 12)]).toEqual([1, 2, 3, 4]);
  });

  it('returns empty views at the start and at the end', () => {
    const memory = BackingMemory.allocate(32);
    expect(memory.view(0, 0).length).toBe(0);
    expect(memory.view(32, 0).length).toBe(0);
    expect(memory.view(0, 32).length).toBe(32);
  });

  it('returns a typed view of elements at an aligned offset', () => {
    const memory = BackingMemory.allocate(64);
    const floats = memory.typedView(Float32Array, 16, 4);
    expect(floats).toBeInstanceOf(Float32Array);
    expect(floats.byteOffset).toBe(16);
    expect(floats.length).toBe(4);
    floats[0] = 1.5;
    expect(new Float32Array(memory.buffer, 16, 1)[0]).toBe(1.5);
    expect(memory.typedView(Float64Array, 56, 1).length).toBe(1);
    expect(memory.typedView(BigInt64Array, 0, 8).length).toBe(8);
  });

  it('rejects a view that overruns the memory, naming the range and the size', () => {
    const memory = BackingMemory.allocate(32);
    const error = expectMemError(() => memory.view(30, 4), 'INVALID_ARGUMENT');
    expect(error.message).toBe('range [30, 34) must lie inside the memory of 32 bytes');
  });

  it('rejects an offset past the end of the memory', () => {
    const memory = BackingMemory.allocate(32);
    const error = expectMemError(() => memory.view(33, 0), 'INVALID_ARGUMENT');
    expect(error.message).toContain('byteOffset');
    expect(error.message).toContain('33');
  });

  it('rejects a typed view whose elements overrun the memory', () => {
    const memory = BackingMemory.allocate(32);
    expectMemError(() => memory.typedView(Float64Array, 8, 4), 'INVALID_ARGUMENT');
    expect(memory.typedView(Float64Array, 8, 3).length).toBe(3);
  });

  it('rejects a typed view at an offset that is not a multiple of the element size', () => {
    const memory = BackingMemory.allocate(64);
    const error = expectMemError(() => memory.typedView(Float32Array, 2, 1), 'INVALID_ARGUMENT');
    expect(error.message).toBe('byteOffset must be a multiple of 4 for a view of 4-byte elements, got 2');
    expectMemError(() => memory.typedView(Float64Array, 4, 1), 'INVALID_ARGUMENT');
    expectMemError(() => memory.typedView(Int32Array, 6, 1), 'INVALID_ARGUMENT');
  });

  it.each(BAD_SIZES)('rejects an offset that is %s with INVALID_ARGUMENT naming it', (_label, value) => {
    const memory = BackingMemory.allocate(32);
    const error = expectMemError(() => memory.view(value as number, 1), 'INVALID_ARGUMENT');
    expect(error.message).toContain('byteOffset');
    expect(error.message).toContain(describeValue(value));
  });

  it.each(BAD_SIZES)('rejects a length that is %s with INVALID_ARGUMENT naming it', (_label, value) => {
    const memory = BackingMemory.allocate(32);
    const error = expectMemError(() => memory.view(0, value as number), 'INVALID_ARGUMENT');
    expect(error.message).toContain('length');
    expect(error.message).toContain(describeValue(value));
  });

  it.each([
    ['null', null],
    ['a plain object', {}],
    ['a function that is not a typed array', () => 0],
  ])('rejects a typed-array type that is %s with INVALID_ARGUMENT', (_label, type) => {
    const memory = BackingMemory.allocate(32);
    expectMemError(() => memory.typedView(type as unknown as Uint8ArrayConstructor, 0, 1), 'INVALID_ARGUMENT');
  });

  it('gives a view exactly when the range lies inside the memory (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 256 }),
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 0, max: 300 }),
        fc.constantFrom<ViewType>(Uint8Array, Uint16Array, Int32Array, Float64Array),
        (capacity, offset, length, type) => {
          const memory = BackingMemory.allocate(capacity);
          const size = type.BYTES_PER_ELEMENT;
          const fits = offset <= capacity && offset % size === 0 && offset + length * size <= capacity;
          if (fits) {
            const view = memory.typedView(type, offset, length);
            expect(view.byteOffset).toBe(offset);
            expect(view.byteLength).toBe(length * size);
            expect(view.buffer).toBe(memory.buffer);
          } else {
            expectMemError(() => memory.typedView(type, offset, length), 'INVALID_ARGUMENT');
          }
        },
      ),
    );
  });
});

describe('BackingMemory.grow', () => {
  it('grows a wasm memory by whole pages, detaches old views and re-resolves the buffer', () => {
    const memory = BackingMemory.wrap(wasmMemory(1, 3));
    const before = memory.bytes();
    before[10] = 99;
    expect(memory.generation).toBe(0);

    expect(memory.grow(1)).toBe(2 * WASM_PAGE_SIZE); // 1 byte rounds up to a whole page

    expect(before.length).toBe(0); // detached
    const after = memory.bytes();
    expect(after === before).toBe(false); // (toBe would try to print the detached view)
    expect(after.length).toBe(2 * WASM_PAGE_SIZE);
    expect(after[10]).toBe(99);
    expect(memory.byteLength).toBe(2 * WASM_PAGE_SIZE);
    expect(memory.buffer).toBe((memory.source as WebAssembly.Memory).buffer);
    expect(memory.generation).toBe(1);
  });

  it('runs each onGrow listener with the new byte length and the memory', () => {
    const memory = BackingMemory.wrap(wasmMemory(1, 3));
    const first = vi.fn();
    const second = vi.fn();
    memory.onGrow(first);
    memory.onGrow(second);
    memory.grow(WASM_PAGE_SIZE);
    expect(first).toHaveBeenCalledExactlyOnceWith(2 * WASM_PAGE_SIZE, memory);
    expect(second).toHaveBeenCalledExactlyOnceWith(2 * WASM_PAGE_SIZE, memory);
  });

  it('lets a listener grow the memory again: every later listener sees the latest length', () => {
    const memory = BackingMemory.wrap(wasmMemory(1, 4));
    const seen: number[] = [];
    let regrown = false;
    memory.onGrow(() => {
      if (regrown) return;
      regrown = true;
      memory.grow(WASM_PAGE_SIZE);
    });
    memory.onGrow((byteLength) => seen.push(byteLength));
    expect(memory.grow(WASM_PAGE_SIZE)).toBe(3 * WASM_PAGE_SIZE);
    expect(seen).toEqual([3 * WASM_PAGE_SIZE, 3 * WASM_PAGE_SIZE]);
    expect(memory.bytes().length).toBe(3 * WASM_PAGE_SIZE);
  });

  it('runs a listener registered by a listener from the next growth on, so growth always ends', () => {
    const memory = BackingMemory.wrap(wasmMemory(1, 4));
    let runs = 0;
    const spawn = (): (() => void) => () => {
      runs += 1;
      memory.onGrow(spawn());
    };
    memory.onGrow(spawn());
    memory.grow(WASM_PAGE_SIZE);
    expect(runs).toBe(1);
    memory.grow(WASM_PAGE_SIZE);
    expect(runs).toBe(3);
  });

  it('stops running a listener once it is unregistered', () => {
    const memory = BackingMemory.wrap(wasmMemory(1, 3));
    const listener = vi.fn();
    const unregister = memory.onGrow(listener);
    unregister();
    memory.grow(WASM_PAGE_SIZE);
    expect(listener).not.toHaveBeenCalled();
  });

  it('throws LIMIT_EXCEEDED past the maximum and leaves the memory unchanged', () => {
    const memory = BackingMemory.wrap(wasmMemory(1, 3));
    memory.grow(WASM_PAGE_SIZE);
    const bytes = memory.bytes();
    bytes[0] = 5;
    const listener = vi.fn();
    memory.onGrow(listener);

    const error = expectMemError(() => memory.grow(2 * WASM_PAGE_SIZE), 'LIMIT_EXCEEDED');
    expect(error.cause).toBeInstanceOf(RangeError);
    expect(error.details).toEqual({ byteLength: 2 * WASM_PAGE_SIZE, pages: 2 });

    expect(memory.byteLength).toBe(2 * WASM_PAGE_SIZE);
    expect(memory.generation).toBe(1);
    expect(memory.bytes()).toBe(bytes);
    expect(bytes.length).toBe(2 * WASM_PAGE_SIZE); // not detached
    expect(bytes[0]).toBe(5);
    expect(listener).not.toHaveBeenCalled();
    expect(memory.grow(WASM_PAGE_SIZE)).toBe(3 * WASM_PAGE_SIZE); // still grows up to the maximum
  });

  it('throws LIMIT_EXCEEDED for a request too large for the runtime', () => {
    const memory = BackingMemory.wrap(wasmMemory(1, 3));
    expectMemError(() => memory.grow(Number.MAX_SAFE_INTEGER), 'LIMIT_EXCEEDED');
    expect(memory.byteLength).toBe(WASM_PAGE_SIZE);
    expect(memory.generation).toBe(0);
  });

  it('does nothing when growing by 0 bytes: no detached views, no listeners', () => {
    const memory = BackingMemory.wrap(wasmMemory(1, 3));
    const before = memory.bytes();
    const listener = vi.fn();
    memory.onGrow(listener);
    expect(memory.grow(0)).toBe(WASM_PAGE_SIZE);
    expect(before.length).toBe(WASM_PAGE_SIZE);
    expect(memory.bytes()).toBe(before);
    expect(memory.generation).toBe(0);
    expect(listener).not.toHaveBeenCalled();
  });

  it('grows a shared wasm memory without detaching the old view', () => {
    const memory = BackingMemory.wrap(sharedWasmMemory(1, 4));
    const before = memory.bytes();
    before[1] = 17;
    expect(memory.grow(WASM_PAGE_SIZE)).toBe(2 * WASM_PAGE_SIZE);
    expect(before.length).toBe(WASM_PAGE_SIZE);
    expect(memory.bytes().length).toBe(2 * WASM_PAGE_SIZE);
    expect(memory.bytes()[1]).toBe(17);
    expect(memory.generation).toBe(1);
  });

  it.each([
    ['an ArrayBuffer', () => BackingMemory.allocate(16)],
    ['a SharedArrayBuffer', () => BackingMemory.allocate(16, { shared: true })],
  ])('rejects growth of %s, which has a fixed size', (_label, make) => {
    const memory = make();
    const error = expectMemError(() => memory.grow(16), 'INVALID_ARGUMENT');
    expect(error.message).toContain('fixed size');
    expect(memory.byteLength).toBe(16);
  });

  it.each(BAD_SIZES)('rejects additionalBytes that is %s with INVALID_ARGUMENT', (_label, value) => {
    const memory = BackingMemory.wrap(wasmMemory(1, 3));
    const error = expectMemError(() => memory.grow(value as number), 'INVALID_ARGUMENT');
    expect(error.message).toContain('additionalBytes');
    expect(memory.byteLength).toBe(WASM_PAGE_SIZE);
  });

  it.each([
    ['null', null],
    ['a string', 'listener'],
    ['an object', {}],
  ])('rejects an onGrow listener that is %s', (_label, listener) => {
    const memory = BackingMemory.wrap(wasmMemory());
    expectMemError(() => memory.onGrow(listener as unknown as () => void), 'INVALID_ARGUMENT');
  });
});

describe('BackingMemory growth by the wasm memory itself', () => {
  it('detects memory.grow called directly through the generation, without running listeners', () => {
    const wasm = wasmMemory(1, 3);
    const memory = BackingMemory.wrap(wasm);
    const before = memory.bytes();
    const listener = vi.fn();
    memory.onGrow(listener);
    const generation = memory.generation;

    wasm.grow(1); // as WASM code's memory.grow would

    expect(before.length).toBe(0);
    expect(memory.generation).toBe(generation + 1);
    expect(memory.bytes().length).toBe(2 * WASM_PAGE_SIZE);
    expect(memory.byteLength).toBe(2 * WASM_PAGE_SIZE);
    expect(memory.view(WASM_PAGE_SIZE, 8).length).toBe(8);
    expect(listener).not.toHaveBeenCalled();
  });

  it('counts each observed buffer replacement once', () => {
    const wasm = wasmMemory(1, 3);
    const memory = BackingMemory.wrap(wasm);
    wasm.grow(1);
    expect(memory.generation).toBe(1);
    expect(memory.generation).toBe(1);
    wasm.grow(1);
    expect(memory.bytes().length).toBe(3 * WASM_PAGE_SIZE);
    expect(memory.generation).toBe(2);
  });

  it('keeps generation 0 for array buffers', () => {
    const memory = BackingMemory.allocate(16, { shared: true });
    memory.bytes()[0] = 1;
    expect(memory.generation).toBe(0);
  });
});

describe('BackingMemory.share and fromDescriptor', () => {
  it('shares a SharedArrayBuffer memory: the attached memory sees the same bytes', () => {
    const memory = BackingMemory.allocate(32, { shared: true });
    const descriptor = memory.share();
    expect(descriptor).toEqual({ kind: 'shared-array-buffer', buffer: memory.buffer });
    const attached = BackingMemory.fromDescriptor(descriptor);
    expect(attached.kind).toBe('shared-array-buffer');
    attached.bytes()[4] = 44;
    expect(memory.bytes()[4]).toBe(44);
  });

  it('shares a shared wasm memory: the attached memory sees the same bytes', () => {
    const wasm = sharedWasmMemory();
    const memory = BackingMemory.wrap(wasm);
    const descriptor = memory.share();
    expect(descriptor).toEqual({ kind: 'wasm-memory', memory: wasm });
    const attached = BackingMemory.fromDescriptor(descriptor);
    expect(attached.kind).toBe('wasm-memory');
    expect(attached.source).toBe(wasm);
    memory.bytes()[9] = 99;
    expect(attached.bytes()[9]).toBe(99);
  });

  it('gives a descriptor that survives structured cloning', () => {
    const memory = BackingMemory.allocate(32, { shared: true });
    const attached = BackingMemory.fromDescriptor(structuredClone(memory.share()));
    attached.bytes()[0] = 1;
    expect(memory.bytes()[0]).toBe(1);
  });

  it.each([
    ['an ArrayBuffer memory', () => BackingMemory.allocate(16)],
    ['a non-shared wasm memory', () => BackingMemory.wrap(wasmMemory())],
  ])('refuses to share %s', (_label, make) => {
    const error = expectMemError(() => make().share(), 'INVALID_ARGUMENT');
    expect(error.message).toContain('non-shared');
  });

  it.each([
    ['null', null],
    ['undefined', undefined],
    ['an empty object', {}],
    ['an unknown kind', { kind: 'array-buffer', buffer: new ArrayBuffer(8) }],
    ['a shared kind over an ArrayBuffer', { kind: 'shared-array-buffer', buffer: new ArrayBuffer(8) }],
    ['a wasm kind over a SharedArrayBuffer', { kind: 'wasm-memory', memory: new SharedArrayBuffer(8) }],
    ['a string', 'shared-array-buffer'],
  ])('rejects a descriptor that is %s with INVALID_ARGUMENT', (_label, descriptor) => {
    const error = expectMemError(
      () => BackingMemory.fromDescriptor(descriptor as unknown as BackingMemoryDescriptor),
      'INVALID_ARGUMENT',
    );
    expect(error.message).toContain(describeValue(descriptor));
  });
});

describe('BackingMemory across worker_threads', () => {
  const workerUrl = new URL('./backing-memory.test-worker.ts', import.meta.url);
  const COUNTER = 0;
  const READY = 1;
  const GO = 2;
  const SIGNATURES = 64;
  const PAYLOAD = 1024;
  const PAYLOAD_BYTES = [3, 1, 4, 1, 5, 9, 2, 6];

  function jobs(
    descriptor: BackingMemoryDescriptor,
    count: number,
    increments: number,
    growBytes = 0,
  ): BackingWorkerJob[] {
    return Array.from({ length: count }, (_, id) => ({
      descriptor,
      id,
      increments,
      counterIndex: COUNTER,
      readyIndex: READY,
      goIndex: GO,
      signatureOffset: SIGNATURES + id * 16,
      payloadOffset: PAYLOAD,
      payloadLength: PAYLOAD_BYTES.length,
      growBytes: id === 0 ? growBytes : 0,
    }));
  }

  /** Waits (without blocking the event loop) until `count` workers are ready, then writes the payload and says go. */
  async function handshake(memory: BackingMemory, count: number, answers: Promise<unknown>): Promise<void> {
    let failed: unknown;
    answers.catch((error: unknown) => {
      failed = error;
    });
    const flags = memory.typedView(Int32Array, 0, 4);
    for (let attempt = 0; Atomics.load(flags, READY) < count; attempt += 1) {
      if (failed !== undefined) throw failed;
      if (attempt > 4000) throw new Error(`only ${Atomics.load(flags, READY)} of ${count} workers got ready`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    memory.view(PAYLOAD, PAYLOAD_BYTES.length).set(PAYLOAD_BYTES);
    Atomics.store(flags, GO, 1);
    Atomics.notify(flags, GO);
  }

  function expectSignatures(memory: BackingMemory, count: number): void {
    for (let id = 0; id < count; id += 1) {
      const expected = Array.from({ length: 16 }, (_, i) => (id * 16 + i) & 0xff);
      expect([...memory.view(SIGNATURES + id * 16, 16)], `signature of worker ${id}`).toEqual(expected);
    }
  }

  it('lets workers attached from a descriptor write bytes and count with Atomics that the main thread sees', async () => {
    const count = 4;
    const increments = 20_000;
    const memory = BackingMemory.allocate(4096, { shared: true });
    const answers = runWorkers<BackingWorkerAnswer>(workerUrl, jobs(memory.share(), count, increments));
    await handshake(memory, count, answers);
    const results = await answers;

    const flags = memory.typedView(Int32Array, 0, 4);
    expect(Atomics.load(flags, COUNTER)).toBe(count * increments); // no increment lost
    expect(Atomics.load(flags, READY)).toBe(count);
    expectSignatures(memory, count);
    for (const answer of results) {
      expect(answer.kind).toBe('shared-array-buffer');
      expect(answer.isShared).toBe(true);
      expect(['ok', 'not-equal']).toContain(answer.waitResult);
      expect(answer.payload).toEqual(PAYLOAD_BYTES); // written by the main thread after the worker started
      expect(answer.byteLengthAtEnd).toBe(4096);
    }
  });

  it('lets workers share a shared WebAssembly.Memory, and sees a worker grow it', async () => {
    const count = 2;
    const increments = 10_000;
    const wasm = new WebAssembly.Memory({ initial: 1, maximum: 4, shared: true });
    const memory = BackingMemory.wrap(wasm);
    const before = memory.bytes();
    const generation = memory.generation;
    const listener = vi.fn();
    memory.onGrow(listener);

    const answers = runWorkers<BackingWorkerAnswer>(workerUrl, jobs(memory.share(), count, increments, WASM_PAGE_SIZE));
    await handshake(memory, count, answers);
    const results = await answers;

    const flags = memory.typedView(Int32Array, 0, 4);
    expect(Atomics.load(flags, COUNTER)).toBe(count * increments);
    expectSignatures(memory, count);
    for (const answer of results) {
      expect(answer.kind).toBe('wasm-memory');
      expect(answer.isShared).toBe(true);
      expect(answer.payload).toEqual(PAYLOAD_BYTES);
    }
    expect(results[0]?.byteLengthAtEnd).toBe(2 * WASM_PAGE_SIZE);
    expect(results[0]?.generation).toBe(1);

    // Growth by another worker: the main thread's memory re-resolves the buffer and counts it.
    expect(memory.generation).toBe(generation + 1);
    expect(memory.byteLength).toBe(2 * WASM_PAGE_SIZE);
    expect(memory.bytes()).not.toBe(before);
    expect(memory.bytes()[2 * WASM_PAGE_SIZE - 1]).toBe(0xab);
    expect(before.length).toBe(WASM_PAGE_SIZE); // a shared buffer is never detached
    expect(listener).not.toHaveBeenCalled(); // growth elsewhere is seen through generation only
  });
});

describe('BackingMemory growth listeners', () => {
  it('runs every listener even when one throws, then rethrows the first error', () => {
    const memory = BackingMemory.wrap(new WebAssembly.Memory({ initial: 1, maximum: 2 }));
    const seen: number[] = [];
    memory.onGrow(() => {
      throw new Error('first listener failed');
    });
    memory.onGrow((byteLength) => seen.push(byteLength));
    expect(() => memory.grow(1)).toThrow('first listener failed');
    expect(seen).toEqual([131072]);
    expect(memory.byteLength).toBe(131072);
  });
});
