/**
 * A child process for wasm-attention.spec.ts, started in a runtime without WebAssembly SIMD128
 * (V8 without SSE4.1): makes a store with the default kernels, attends, and prints its stats, its
 * memory's kind and the output as JSON.
 */
import { KvCacheManager } from '../kv-cache-manager.js';
import { KvStore } from '../kv-store.js';
import { pagedAttention } from '../paged-attention.js';
import { fallbackScenario } from './kernel-fallback.test-helper.js';

const store = new KvStore(fallbackScenario.layout);
const kv = new KvCacheManager({
  numBlocks: fallbackScenario.layout.numBlocks,
  blockSize: fallbackScenario.layout.blockSize,
});
const { sequence, query } = fallbackScenario.fill(store, kv);
const out = pagedAttention(store, 0, sequence, sequence.tokenCount, query, { numQueryHeads: 4 });
process.stdout.write(JSON.stringify({ stats: store.stats(), kind: store.memory.kind, out: [...out] }));
