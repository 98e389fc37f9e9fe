/** The store and sequence that wasm-attention.spec.ts and its child process both build. */
import type { KvCacheManager } from '../kv-cache-manager.js';
import type { KvSequence } from '../kv-sequence.js';
import type { KvStore } from '../kv-store.js';

export const fallbackScenario = {
  layout: { numLayers: 1, numBlocks: 8, numKvHeads: 2, blockSize: 16, headDim: 32 },
  /** Writes 40 tokens of K/V; returns the sequence and a query of 4 heads. */
  fill(store: KvStore, kv: KvCacheManager): { sequence: KvSequence; query: Float32Array } {
    const sequence = kv.createSequence({ tokens: Array.from({ length: 40 }, (_, i) => i) });
    kv.admit(sequence);
    for (let p = 0; p < 40; p += 1) {
      const k = new Float32Array(64).map((_, i) => Math.sin(p * 0.7 + i));
      store.writeToken(
        0,
        sequence,
        p,
        k,
        k.map((x) => x * x),
      );
    }
    return { sequence, query: new Float32Array(128).map((_, i) => Math.cos(i * 0.3)) };
  },
};
