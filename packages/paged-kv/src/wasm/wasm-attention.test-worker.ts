/**
 * A worker_threads worker for wasm-attention.spec.ts: attaches to the shared store its descriptor
 * describes, attends over the sequence the main thread wrote, and posts its kernel and output.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { BlockTableView } from '../paged-sequence.js';
import { KvStore, type KvStoreDescriptor } from '../kv-store.js';
import { pagedAttention } from '../paged-attention.js';

const { descriptor, table, query } = workerData as {
  descriptor: KvStoreDescriptor;
  table: BlockTableView;
  query: Float32Array;
};
const store = KvStore.attach(descriptor);
const out = pagedAttention(store, 0, table, 7, query, { numQueryHeads: 2 });
const { kernel } = store.stats();
store.close();
parentPort!.postMessage({ kernel, out: [...out] });
