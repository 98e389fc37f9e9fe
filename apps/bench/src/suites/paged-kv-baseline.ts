/**
 * The baseline of the `paged-kv` suite: a block allocator of the common design found in Rust
 * serving engines: a LIFO free list in a JS array, 16-bit reference counts, a
 * `Map<bigint, number>` hash table for the u64 `BlockHash`, and the O(n) free-list search
 * (`rposition` + `swap_remove`) when a soft-free block is resurrected. `Result::Err` becomes a
 * thrown Error; `debug_assert!`s are left out, as in a release build.
 */
export class BaselineBlockAllocator {
  freeList: number[];
  readonly capacity: number;
  peakInUse = 0;
  readonly refCounts: Uint16Array;
  readonly hashTable = new Map<bigint, number>();
  readonly blockToHash: (bigint | undefined)[];

  constructor(numBlocks: number) {
    this.freeList = Array.from({ length: numBlocks }, (_, i) => i);
    this.freeList.reverse(); // pop() yields 0 first
    this.capacity = numBlocks;
    this.refCounts = new Uint16Array(numBlocks);
    this.blockToHash = new Array<bigint | undefined>(numBlocks).fill(undefined);
  }

  allocate(): number {
    const b = this.freeList.pop();
    if (b === undefined) throw new Error(`paged KV pool exhausted (capacity=${this.capacity} blocks, all in use)`);
    this.evictHashIfAny(b);
    this.refCounts[b] = 1;
    const inUse = this.capacity - this.freeList.length;
    if (inUse > this.peakInUse) this.peakInUse = inUse;
    return b;
  }

  evictHashIfAny(block: number): void {
    const h = this.blockToHash[block];
    if (h === undefined) return;
    this.blockToHash[block] = undefined;
    if (this.hashTable.get(h) === block) this.hashTable.delete(h);
  }

  allocateN(n: number): number[] {
    if (this.freeList.length < n) {
      throw new Error(`paged KV pool exhausted: need ${n} blocks but only ${this.freeList.length} free`);
    }
    const out: number[] = [];
    for (let i = 0; i < n; i += 1) {
      const b = this.freeList.pop()!;
      this.evictHashIfAny(b);
      this.refCounts[b] = 1;
      out.push(b);
    }
    const inUse = this.capacity - this.freeList.length;
    if (inUse > this.peakInUse) this.peakInUse = inUse;
    return out;
  }

  tryAcquireByHash(hash: bigint): number | undefined {
    const block = this.hashTable.get(hash);
    if (block === undefined) return undefined;
    if (this.refCounts[block] === 0) {
      const pos = this.freeList.lastIndexOf(block); // rposition: O(n)
      if (pos < 0) return undefined;
      this.freeList[pos] = this.freeList[this.freeList.length - 1]!; // swap_remove
      this.freeList.pop();
      this.refCounts[block] = 1;
      const inUse = this.capacity - this.freeList.length;
      if (inUse > this.peakInUse) this.peakInUse = inUse;
    } else {
      this.acquire(block);
    }
    return block;
  }

  registerBlockHash(block: number, hash: bigint): void {
    const old = this.blockToHash[block];
    this.blockToHash[block] = hash;
    if (old !== undefined) {
      if (old !== hash) {
        if (this.hashTable.get(old) === block) this.hashTable.delete(old);
      } else {
        return;
      }
    }
    this.hashTable.set(hash, block);
  }

  acquire(block: number): void {
    if (this.refCounts[block] === 65535) throw new Error('BlockAllocator ref_count u16 overflow (>65535 sharers)');
    this.refCounts[block]! += 1;
  }

  free(blocks: readonly number[]): void {
    for (const b of blocks) {
      this.refCounts[b]! -= 1;
      if (this.refCounts[b] === 0) this.freeList.push(b);
    }
  }

  get freeCount(): number {
    return this.freeList.length;
  }
}
