/**
 * The shared mode of KvStore: the conformance checks of the shared-mode contract (with a real
 * worker and a garbage collection), the layout checks of attach, and close.
 */
import { describe, expect, it } from 'vitest';
import { sharedModeConformance } from '@mem/types/conformance';
import { runWorker } from '@mem/testkit';
import { collectGarbage } from '@mem/testkit/collect-garbage';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { KvStore, type KvStoreDescriptor, type KvStoreOptions } from './kv-store.js';

const LAYOUT: KvStoreOptions = { numLayers: 2, numBlocks: 4, numKvHeads: 2, blockSize: 2, headDim: 3 };
const WORKER = new URL('./kv-store.test-worker.ts', import.meta.url);

/** Block 0 of layer 0, as a block table of one block. */
const TABLE = { blockTable: new Uint32Array([0]), blockCount: 1, blockSize: LAYOUT.blockSize };

interface WorkerAnswer {
  readonly key: number[];
  readonly value: number[];
  readonly closed: boolean;
}

describe('KvStore shared mode', () => {
  const subject = {
    kind: 'mem.paged-kv.kv-store',
    version: 1,
    create: () => KvStore.createShared(LAYOUT),
    attach: (descriptor: unknown) => KvStore.attach(descriptor as KvStoreDescriptor),
    use(store: KvStore) {
      const k = new Float32Array(6).fill(1);
      store.writeToken(1, TABLE, 1, k, k);
      store.readToken(1, TABLE, 1, k, k);
      return k[0];
    },
    /** The worker reads the token written here at position 0 and writes one at position 1. */
    async inWorker(descriptor: KvStoreDescriptor) {
      const store = KvStore.attach(descriptor);
      try {
        const key = Float32Array.from([1, 2, 3, 4, 5, 6]);
        const value = Float32Array.from([7, 8, 9, 10, 11, 12]);
        store.writeToken(0, TABLE, 0, key, value);
        const answer = await runWorker<WorkerAnswer>(WORKER, descriptor);
        expect(answer).toEqual({ key: [...key], value: [...value], closed: true });
        const keyOut = new Float32Array(6);
        const valueOut = new Float32Array(6);
        store.readToken(0, TABLE, 1, keyOut, valueOut);
        expect([...keyOut]).toEqual([2, 3, 4, 5, 6, 7]);
        expect([...valueOut]).toEqual([8, 9, 10, 11, 12, 13]);
      } finally {
        store.close();
      }
    },
    collectGarbage: async () => collectGarbage(),
  };
  for (const check of sharedModeConformance(subject)) it(check.name, check.run);

  it('KvStore.attach gives a store of the same layout over the same memory, for every dtype', () => {
    for (const dtype of ['float32', 'float16', 'bfloat16'] as const) {
      const store = KvStore.createShared({ ...LAYOUT, dtype });
      const attached = KvStore.attach(structuredClone(store.descriptor()));
      expect(attached.dtype).toBe(dtype);
      expect(attached.byteLength).toBe(store.byteLength);
      store.writeToken(1, TABLE, 1, new Float32Array(6).fill(0.5), new Float32Array(6).fill(2));
      const value = new Float32Array(6);
      attached.readToken(1, TABLE, 1, new Float32Array(6), value);
      expect([...value]).toEqual([2, 2, 2, 2, 2, 2]);
      attached.close();
      store.close();
    }
  });

  it('KvStore.attach throws INVALID_ARGUMENT for a bad layout field or a buffer of another size or kind', () => {
    const store = KvStore.createShared(LAYOUT);
    const descriptor = store.descriptor();
    for (const bad of [
      { ...descriptor, numLayers: 0 },
      { ...descriptor, headDim: 1.5 },
      { ...descriptor, dtype: 'int8' },
      { ...descriptor, numBlocks: 8 }, // the buffer is too small for it
      { ...descriptor, buffer: new SharedArrayBuffer(descriptor.buffer.byteLength + 4) },
      { ...descriptor, buffer: new ArrayBuffer(descriptor.buffer.byteLength) },
      { ...descriptor, buffer: undefined },
    ]) {
      expectMemError(() => KvStore.attach(bad as never), 'INVALID_ARGUMENT');
    }
    expect(KvStore.attach(descriptor).numBlocks).toBe(4);
  });

  it('KvStore.createShared throws INVALID_ARGUMENT for an invalid or unknown option, EXHAUSTED for too much memory', () => {
    expectMemError(() => KvStore.createShared(undefined as never), 'INVALID_ARGUMENT');
    expectMemError(() => KvStore.createShared({ ...LAYOUT, numKvHeads: 0 }), 'INVALID_ARGUMENT');
    expectMemError(() => KvStore.createShared({ ...LAYOUT, shared: true } as never), 'INVALID_ARGUMENT');
    const huge = { numLayers: 4096, numBlocks: 1 << 24, numKvHeads: 4, blockSize: 16, headDim: 4 };
    expectMemError(() => KvStore.createShared(huge), 'EXHAUSTED');
    expect(KvStore.createShared(LAYOUT).memory.isShared).toBe(true);
  });

  it('KvStore.descriptor throws INVALID_ARGUMENT for a private store, which keeps working', () => {
    const store = new KvStore(LAYOUT);
    expect(store.closed).toBe(false);
    const error = expectMemError(() => store.descriptor(), 'INVALID_ARGUMENT');
    expect(error.message).toContain('KvStore.createShared');
    expect(store.keys(0).length).toBe(4 * 2 * 2 * 3);
  });

  it('after KvStore.close every method throws USE_AFTER_RELEASE, and other attachments keep the data', () => {
    const store = KvStore.createShared(LAYOUT);
    const other = KvStore.attach(store.descriptor());
    const k = new Float32Array(6).fill(3);
    store.writeToken(0, TABLE, 0, k, k);
    store.close();
    store.close();
    expect(store.closed).toBe(true);
    for (const call of [
      () => store.keys(0),
      () => store.values(0),
      () => store.offsetOf(0, 0, 0),
      () => store.writeToken(0, TABLE, 1, k, k),
      () => store.readToken(0, TABLE, 0, k, k),
      () => store.copyBlock(0, 1),
      () => store.descriptor(),
      () => store.memory,
      () => store.byteLength,
    ]) {
      expectMemError(call, 'USE_AFTER_RELEASE');
    }
    const out = new Float32Array(6);
    other.readToken(0, TABLE, 0, out, new Float32Array(6));
    expect([...out]).toEqual([3, 3, 3, 3, 3, 3]);
    other[Symbol.dispose]();
    expect(other.closed).toBe(true);
  });

  it('a private store closes too: its methods then throw USE_AFTER_RELEASE', () => {
    const store = new KvStore(LAYOUT);
    store.close();
    expectMemError(() => store.keys(0), 'USE_AFTER_RELEASE');
  });
});
