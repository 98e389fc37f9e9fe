/**
 * A worker_threads worker for kv-store.spec.ts: attaches to the shared store its descriptor
 * describes, checks the token the main thread wrote at position 0, writes its own at position 1,
 * closes, and posts what it read.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { KvStore, type KvStoreDescriptor } from './kv-store.js';

const store = KvStore.attach(workerData as KvStoreDescriptor);
const width = store.numKvHeads * store.headDim;
const table = { blockTable: new Uint32Array([0]), blockCount: 1, blockSize: store.blockSize };
const key = new Float32Array(width);
const value = new Float32Array(width);
store.readToken(0, table, 0, key, value);
store.writeToken(
  0,
  table,
  1,
  key.map((x) => x + 1),
  value.map((x) => x + 1),
);
store.close();
parentPort!.postMessage({ key: [...key], value: [...value], closed: store.closed });
