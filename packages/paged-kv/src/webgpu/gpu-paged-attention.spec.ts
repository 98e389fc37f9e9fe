import { describe, expect, it } from 'vitest';
import { seededRandom } from '@mem/testkit/seeded-random';
import { KvCacheManager } from '../kv-cache-manager.js';
import { KvStore } from '../kv-store.js';
import type { KvDType } from '../kv-store-layout.js';
import { pagedAttention } from '../paged-attention.js';
import { Scheduler, type StepEntry } from '../scheduler.js';
import { GpuKvStore } from './gpu-kv-store.js';
import { excess, gpu, runStep } from './gpu-kv.test-helper.js';
import { GpuPagedAttention } from './gpu-paged-attention.js';

// The documented tolerance: |gpu - cpu| <= 1e-5 + 1e-4 * |cpu|.
const ABSOLUTE = 1e-5;
const RELATIVE = 1e-4;

interface Shape {
  readonly name: string;
  readonly blockSize: number;
  readonly numKvHeads: number;
  readonly numQueryHeads: number;
  readonly headDim: number;
  readonly dtype: KvDType;
  readonly prompts: readonly number[];
  /** A buffer size that splits each layer into several buffers. */
  readonly maxBufferSize?: number;
}

const SHAPES: readonly Shape[] = [
  // GQA 4:1, a prompt over two partitions of 256 positions, chunked prefill, lengths ending mid-block.
  {
    name: 'f32, blocks of 16, GQA 8:2',
    blockSize: 16,
    numKvHeads: 2,
    numQueryHeads: 8,
    headDim: 32,
    dtype: 'float32',
    prompts: [300, 37, 5],
  },
  {
    name: 'f16, blocks of 4, one head',
    blockSize: 4,
    numKvHeads: 1,
    numQueryHeads: 1,
    headDim: 8,
    dtype: 'float16',
    prompts: [13, 6],
  },
  {
    name: 'bf16, blocks of 8, MHA 4:4',
    blockSize: 8,
    numKvHeads: 4,
    numQueryHeads: 4,
    headDim: 16,
    dtype: 'bfloat16',
    prompts: [21, 2, 9],
  },
  {
    name: 'f32, blocks of 1, GQA 6:3, odd dim',
    blockSize: 1,
    numKvHeads: 3,
    numQueryHeads: 6,
    headDim: 5,
    dtype: 'float32',
    prompts: [7, 3],
  },
  // 8 blocks of 8 x 2 x 16 floats per buffer: 6 buffers per layer.
  {
    name: 'f32 split over 6 buffers per layer',
    blockSize: 8,
    numKvHeads: 2,
    numQueryHeads: 4,
    headDim: 16,
    dtype: 'float32',
    prompts: [150, 40],
    maxBufferSize: 8 * 2 * (8 * 2 * 16 * 4),
  },
];

/** Deterministic K, V and query rows for the entries of a step. */
function stepRows(entries: readonly StepEntry[], shape: Shape, seed: number) {
  const random = seededRandom(seed);
  const rows = entries.reduce((sum, entry) => sum + entry.count, 0);
  const kvWidth = shape.numKvHeads * shape.headDim;
  const qWidth = shape.numQueryHeads * shape.headDim;
  const fill = (length: number): Float32Array<ArrayBuffer> => Float32Array.from({ length }, () => random() * 2 - 1);
  return { rows, keys: fill(rows * kvWidth), values: fill(rows * kvWidth), query: fill(rows * qWidth) };
}

describe.skipIf(gpu === undefined)(`GpuPagedAttention on ${gpu?.adapterName ?? 'no adapter'}`, () => {
  const device = gpu?.device as GPUDevice;

  for (const shape of SHAPES) {
    it(`equals the CPU pagedAttention on every row of every scheduler step (${shape.name})`, async () => {
      const { blockSize, numKvHeads, headDim, dtype, numQueryHeads } = shape;
      const numBlocks = 48;
      const layout = { numLayers: 2, numBlocks, numKvHeads, blockSize, headDim, dtype };
      const cpu = new KvStore(layout);
      const store = GpuKvStore.create(device, { ...layout, maxBufferSize: shape.maxBufferSize });
      if (shape.maxBufferSize !== undefined) expect(store.buffersPerLayer).toBe(6);
      const attention = new GpuPagedAttention(store, { numQueryHeads });
      const kv = new KvCacheManager({ numBlocks, blockSize, prefixCaching: false });
      const scheduler = new Scheduler(kv, { maxTokensPerStep: 96 });
      shape.prompts.forEach((length, i) =>
        scheduler.submit({ tokens: Array.from({ length }, (_, t) => (t * 7 + i) % 100), maxNewTokens: 4 }),
      );
      const kvWidth = numKvHeads * headDim;
      const qWidth = numQueryHeads * headDim;
      for (let stepIndex = 0; scheduler.hasWork; stepIndex += 1) {
        const step = scheduler.step();
        for (let layer = 0; layer < 2; layer += 1) {
          const rows = stepRows(step.entries, shape, stepIndex * 10 + layer);
          const out = await runStep(attention, layer, step.entries, rows);
          const expected = new Float32Array(rows.rows * qWidth);
          let row = 0;
          for (const { sequence, start, count } of step.entries) {
            for (let p = start; p < start + count; p += 1, row += 1) {
              const at = (r: number, width: number): [number, number] => [r * width, (r + 1) * width];
              cpu.writeToken(
                layer,
                sequence,
                p,
                rows.keys.slice(...at(row, kvWidth)),
                rows.values.slice(...at(row, kvWidth)),
              );
            }
          }
          row = 0;
          for (const { sequence, start, count } of step.entries) {
            for (let p = start; p < start + count; p += 1, row += 1) {
              const query = rows.query.slice(row * qWidth, (row + 1) * qWidth);
              expected.set(pagedAttention(cpu, layer, sequence, p + 1, query, { numQueryHeads }), row * qWidth);
            }
          }
          expect(excess(out, expected, RELATIVE)).toBeLessThanOrEqual(ABSOLUTE);
        }
        scheduler.commit(
          step,
          step.entries.map(() => 1),
        );
      }
      // The GPU store holds the CPU store's bytes, in its layout.
      for (let layer = 0; layer < 2; layer += 1) {
        const { keys, values } = await store.readLayer(layer);
        expect(keys).toEqual(cpu.keys(layer));
        expect(values).toEqual(cpu.values(layer));
      }
      attention.destroy();
      store.destroy();
    });
  }

  it('GpuPagedAttention.byteLength counts its step buffers, grows with the largest step, and is 0 once destroyed', () => {
    const store = GpuKvStore.create(device, { numLayers: 1, numBlocks: 64, numKvHeads: 2, blockSize: 16, headDim: 16 });
    const attention = new GpuPagedAttention(store, { numQueryHeads: 4 });
    expect(attention.byteLength).toBe(0);
    const kv = new KvCacheManager({ numBlocks: 64, blockSize: 16, prefixCaching: false });
    const short = kv.createSequence({ tokens: [1, 2, 3] });
    const long = kv.createSequence({ tokens: Array.from({ length: 600 }, (_, i) => i % 200) });
    kv.admit(short);
    kv.admit(long);
    attention.prepare([{ sequence: short, start: 0, count: 3 }]);
    const small = attention.byteLength;
    // Metadata and partials are each at least 256 bytes, and a power of two.
    expect(small).toBeGreaterThanOrEqual(512);
    // 600 rows x 4 heads x 3 partitions of 256 positions x (16 + 2) floats of partial results.
    attention.prepare([{ sequence: long, start: 0, count: 600 }]);
    expect(attention.byteLength).toBeGreaterThanOrEqual(600 * 4 * 3 * 18 * 4);
    expect(attention.byteLength).toBeGreaterThan(small);
    const grown = attention.byteLength;
    attention.prepare([{ sequence: short, start: 0, count: 3 }]);
    expect(attention.byteLength).toBe(grown); // kept for the next large step
    attention.destroy();
    expect(attention.byteLength).toBe(0);
    store.destroy();
  });

  it('GpuKvStore.copyBlock copies forked blocks on write, within a buffer and across buffers', async () => {
    for (const maxBufferSize of [undefined, 4 * 2 * (4 * 1 * 8 * 4)]) {
      const layout = { numLayers: 2, numBlocks: 16, numKvHeads: 1, blockSize: 4, headDim: 8 } as const;
      const cpu = new KvStore(layout);
      const store = GpuKvStore.create(device, { ...layout, maxBufferSize });
      const attention = new GpuPagedAttention(store, { numQueryHeads: 2 });
      const kv = new KvCacheManager({
        numBlocks: 16,
        blockSize: 4,
        prefixCaching: false,
        copyBlock: (s, t) => {
          cpu.copyBlock(s, t);
          store.copyBlock(s, t);
        },
      });
      const parent = kv.createSequence({ tokens: Array.from({ length: 10 }, (_, i) => i) });
      kv.admit(parent);
      const shape = { numKvHeads: 1, numQueryHeads: 2, headDim: 8 } as Shape;
      const prefill = [{ sequence: parent, start: 0, count: 10 }];
      for (let layer = 0; layer < 2; layer += 1) {
        const rows = stepRows(prefill as unknown as StepEntry[], shape, layer);
        await runStep(attention, layer, prefill, rows);
        for (let p = 0; p < 10; p += 1) {
          cpu.writeToken(layer, parent, p, rows.keys.slice(p * 8, p * 8 + 8), rows.values.slice(p * 8, p * 8 + 8));
        }
      }
      kv.markComputed(parent, 10);
      const child = kv.fork(parent);
      // Each decodes its own position 10 into the shared partial block: the second write copies it.
      for (const [i, sequence] of [parent, child].entries()) {
        kv.appendTokens(sequence, [50 + i]);
        kv.reserve(sequence);
      }
      expect(child.blockTable[2]).not.toBe(parent.blockTable[2]);
      const decode = [parent, child].map((sequence) => ({ sequence, start: 10, count: 1 }));
      for (let layer = 0; layer < 2; layer += 1) {
        const rows = stepRows(decode as unknown as StepEntry[], shape, 100 + layer);
        const out = await runStep(attention, layer, decode, rows);
        const expected = new Float32Array(32);
        decode.forEach(({ sequence }, r) =>
          cpu.writeToken(layer, sequence, 10, rows.keys.slice(r * 8, r * 8 + 8), rows.values.slice(r * 8, r * 8 + 8)),
        );
        decode.forEach(({ sequence }, r) =>
          expected.set(
            pagedAttention(cpu, layer, sequence, 11, rows.query.slice(r * 16, r * 16 + 16), { numQueryHeads: 2 }),
            r * 16,
          ),
        );
        expect(excess(out, expected, RELATIVE)).toBeLessThanOrEqual(ABSOLUTE);
        const { keys } = await store.readLayer(layer);
        expect(keys).toEqual(cpu.keys(layer));
      }
      attention.destroy();
      store.destroy();
    }
  });
});
