/**
 * Model-based property test of hand-offs: random chains of `alloc`, `write`, `freeze`, `slice`,
 * `clone`, `tryFromFrozen`, `transfer`, `adopt`, `toNodeBuffer` and `release` (with replays,
 * double releases and uses after release) run against a real pool, private or shared (two
 * instances), and a model that knows, for every handle, the slot and the byte range it covers.
 * Every byte written is stamped with the write that put it there; after every step:
 * - every live handle shows exactly its range of its slot (`bytes`, `capacityBytes`, `byteOffset`,
 *   `arrayBuffer`, `toNodeBuffer`), holding the stamps the model expects;
 * - every frozen view's reference count is the model's count of views and transfers in flight, and
 *   a transferred clone of it, adopted by another instance, shows the same bytes;
 * - no slot is handed out while the model holds it, and created = free + held per class;
 * - released handles throw `DOUBLE_FREE` and `USE_AFTER_RELEASE`, replayed transfers `STALE_HANDLE`.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { BufferPool } from './buffer-pool.js';
import { BufferPoolConfig } from './buffer-pool-config.js';
import type { BufferTransfer } from './buffer-transfer.js';
import { FrozenBuffer } from './frozen-buffer.js';
import { IoBuffer } from './io-buffer.js';
import { toNodeBuffer } from './node/index.js';

/** Steps on one handle, chosen among those its kind allows. */
type Action =
  'write' | 'setLength' | 'nodeWrite' | 'freeze' | 'slice' | 'narrow' | 'clone' | 'thaw' | 'transfer' | 'adopt';

/** What a chain may do next with the handle it holds (hand-offs weigh more). */
const ACTIONS: Record<'io' | 'frozen' | 'transfer', readonly Action[]> = {
  io: ['write', 'setLength', 'nodeWrite', 'freeze', 'freeze', 'freeze', 'transfer', 'transfer'],
  frozen: ['slice', 'narrow', 'narrow', 'narrow', 'clone', 'thaw', 'thaw', 'thaw', 'transfer', 'transfer'],
  transfer: ['adopt'],
};

/** One step of a chain: which action, and its numeric parameters. */
interface Step {
  readonly action: number;
  readonly a: number;
  readonly b: number;
}

interface Op {
  /** `chain` takes steps with one handle and its successors; the others act on the pool. */
  readonly kind: 'chain' | 'alloc' | 'release' | 'replay' | 'misuse' | 'flush';
  readonly steps: readonly Step[];
  readonly pick: number;
  readonly a: number;
  readonly b: number;
  readonly instance: number;
}

/** The memory a handle covers: a pooled slot, or an untracked array. */
interface Memory {
  /** The class, or -1 when untracked. */
  readonly classIndex: number;
  readonly backing: ArrayBuffer | SharedArrayBuffer | undefined;
  /** Where the slot starts in its backing (pooled only). */
  readonly offset: number;
  /** What every byte of the slot holds. */
  readonly bytes: Uint8Array;
  /** Live views and transfers in flight that hold it (for a frozen slot: its reference count). */
  holders: number;
}

interface Handle {
  kind: 'io' | 'frozen' | 'transfer';
  readonly memory: Memory;
  /** Where the handle starts within its slot. */
  readonly start: number;
  /** Readable bytes. */
  length: number;
  /** Capacity from `start` (mutable buffers only). */
  readonly capacity: number;
  /** The object: a buffer, a view, or a descriptor in flight. */
  readonly value: IoBuffer | FrozenBuffer | BufferTransfer;
  /** Whether a transfer in flight carries a frozen view. */
  readonly frozenTransfer: boolean;
}

const config = BufferPoolConfig.from({ minSize: 64, maxSize: 256, alignment: 64, maxPerClass: 4 });
const SIZES = [1, 64, 65, 200, 256, 300];

const opArbitrary: fc.Arbitrary<Op> = fc.record({
  kind: fc.constantFrom<Op['kind']>(
    'chain',
    'chain',
    'chain',
    'alloc',
    'alloc',
    'release',
    'replay',
    'misuse',
    'flush',
  ),
  steps: fc.array(fc.record({ action: fc.nat(), a: fc.nat(), b: fc.nat() }), { minLength: 1, maxLength: 8 }),
  pick: fc.nat(),
  a: fc.nat(),
  b: fc.nat(),
  instance: fc.nat(1),
});

/** A byte that says which write put it where: stamps of different writes or places differ. */
function stamp(serial: number, position: number): number {
  return (Math.imul(serial, 0x9e3779b1) + Math.imul(position + 1, 0x85ebca6b)) >>> 24;
}

function runChain(shared: boolean, prefill: boolean, ops: readonly Op[]): void {
  const first = shared
    ? BufferPool.createShared(config.withPrefill(prefill), { leakDetection: 'off' })
    : new BufferPool(config.withPrefill(prefill), { leakDetection: 'off' });
  const instances = shared ? [first, BufferPool.attach(first.descriptor(), { leakDetection: 'off' })] : [first];
  const live: Handle[] = [];
  const released: (IoBuffer | FrozenBuffer)[] = [];
  const adopted: BufferTransfer[] = [];
  let serial = 0;

  const expected = (handle: Handle, length: number): number[] => [
    ...handle.memory.bytes.subarray(handle.start, handle.start + length),
  ];
  const drop = (handle: Handle): void => {
    live.splice(live.indexOf(handle), 1);
    handle.memory.holders -= 1;
  };
  const retire = (handle: Handle): void => {
    drop(handle);
    if (handle.kind !== 'transfer') released.push(handle.value as IoBuffer | FrozenBuffer);
  };
  const add = (handle: Handle): Handle => {
    live.push(handle);
    handle.memory.holders += 1;
    return handle;
  };
  const check = (): void => {
    for (const handle of live) {
      const { memory } = handle;
      if (handle.kind === 'io') {
        const buffer = handle.value as IoBuffer;
        expect(buffer.length).toBe(handle.length);
        expect(buffer.capacity).toBe(handle.capacity);
        expect([...buffer.bytes]).toEqual(expected(handle, handle.length));
        expect([...buffer.capacityBytes]).toEqual(expected(handle, handle.capacity));
        expect([...toNodeBuffer(buffer, 'capacity')]).toEqual(expected(handle, handle.capacity));
        if (memory.classIndex >= 0) {
          expect(buffer.arrayBuffer).toBe(memory.backing);
          expect(buffer.byteOffset).toBe(memory.offset + handle.start);
        }
      } else if (handle.kind === 'frozen') {
        const view = handle.value as FrozenBuffer;
        expect(view.length).toBe(handle.length);
        expect([...view.bytes]).toEqual(expected(handle, handle.length));
        const node = toNodeBuffer(view);
        expect([...node]).toEqual(expected(handle, handle.length));
        if (memory.classIndex >= 0) {
          expect(node.buffer).toBe(memory.backing);
          expect(node.byteOffset).toBe(memory.offset + handle.start);
        }
        expect(view.referenceCount).toBe(memory.holders);
        // Probe the view's hand-off without changing anything: a transferred clone, adopted by
        // the other instance, shows the same bytes of the same slot.
        const probe = instances[instances.length - 1]!.adopt(structuredClone(view.clone().transfer()));
        expect([...probe.bytes]).toEqual(expected(handle, handle.length));
        if (memory.classIndex >= 0) expect(toNodeBuffer(probe).byteOffset).toBe(memory.offset + handle.start);
        probe.release();
      }
    }
    // Nothing lost, nothing handed out twice: created = free + held, per class.
    const held = new Set(live.map((handle) => handle.memory).filter((memory) => memory.classIndex >= 0));
    const stats = instances.map((pool) => pool.stats());
    for (let c = 0; c < config.classCount; c += 1) {
      const free = stats.reduce((sum, s) => sum + s.classes[c]!.localFree, stats[0]!.classes[c]!.globalFree);
      const holding = [...held].filter((memory) => memory.classIndex === c).length;
      expect(free + holding).toBe(stats[0]!.classes[c]!.created);
    }
    expect(stats[0]!.transfersInFlight).toBe(live.filter((handle) => handle.kind === 'transfer').length);
  };

  /** One step with one handle; returns the handle the chain goes on with. */
  const step = (handle: Handle, action: Action, op: Step, pool: BufferPool): Handle => {
    switch (action) {
      case 'write': {
        const buffer = handle.value as IoBuffer;
        const count = op.a % (handle.capacity - handle.length + 1);
        serial += 1;
        const data = Array.from({ length: count }, (_, i) => stamp(serial, i));
        expect(buffer.write(op.b % 2 === 0 ? data : Uint8Array.from(data))).toBe(handle.length + count);
        handle.memory.bytes.set(data, handle.start + handle.length);
        handle.length += count;
        return handle;
      }
      case 'setLength': {
        handle.length = op.a % (handle.capacity + 1);
        (handle.value as IoBuffer).length = handle.length;
        return handle;
      }
      case 'nodeWrite': {
        // Write through a Node Buffer of the capacity: the same memory.
        if (handle.capacity === 0) return handle;
        const at = op.a % handle.capacity;
        serial += 1;
        toNodeBuffer(handle.value as IoBuffer, 'capacity')[at] = stamp(serial, at);
        handle.memory.bytes[handle.start + at] = stamp(serial, at);
        return handle;
      }
      case 'freeze': {
        const view = (handle.value as IoBuffer).freeze();
        retire(handle);
        return add({ ...handle, kind: 'frozen', value: view });
      }
      case 'slice':
      case 'narrow':
      case 'clone': {
        const view = handle.value as FrozenBuffer;
        const from = action === 'clone' ? 0 : op.a % (handle.length + 1);
        const to = action === 'clone' ? handle.length : from + (op.b % (handle.length - from + 1));
        const part = action === 'clone' ? view.clone() : view.slice(from, to);
        let next: Handle;
        if (action !== 'clone' && from === to) {
          // An empty slice holds no reference: it is untracked memory of its own.
          expect(part.isPooled).toBe(false);
          const memory: Memory = {
            classIndex: -1,
            backing: undefined,
            offset: 0,
            bytes: new Uint8Array(0),
            holders: 0,
          };
          next = add({ kind: 'frozen', memory, start: 0, length: 0, capacity: 0, value: part, frozenTransfer: false });
        } else {
          next = add({ ...handle, start: handle.start + from, length: to - from, value: part });
        }
        if (action === 'narrow') {
          // Keep only the part: what a parser does with a header it has read.
          view.release();
          retire(handle);
        }
        return next;
      }
      case 'thaw': {
        const mutable = IoBuffer.tryFromFrozen(handle.value as FrozenBuffer);
        if (handle.memory.holders > 1) {
          expect(mutable).toBeUndefined();
          expect((handle.value as FrozenBuffer).released).toBe(false);
          return handle;
        }
        expect(mutable).toBeInstanceOf(IoBuffer);
        retire(handle);
        const capacity = handle.memory.bytes.length - handle.start;
        return add({ ...handle, kind: 'io', capacity, value: mutable!, frozenTransfer: false });
      }
      case 'transfer': {
        const frozen = handle.kind === 'frozen';
        const descriptor = frozen ? (handle.value as FrozenBuffer).transfer() : (handle.value as IoBuffer).transfer();
        retire(handle);
        if (frozen && handle.memory.classIndex < 0) {
          // An untracked view travels as a copy of its bytes.
          const bytes = handle.memory.bytes.slice(handle.start, handle.start + handle.length);
          const memory: Memory = { classIndex: -1, backing: undefined, offset: 0, bytes, holders: 0 };
          return add({ ...handle, memory, start: 0, kind: 'transfer', value: descriptor, frozenTransfer: true });
        }
        return add({ ...handle, kind: 'transfer', value: descriptor, frozenTransfer: frozen });
      }
      case 'adopt': {
        // Through structured cloning, as a worker would receive it.
        const descriptor = handle.value as BufferTransfer;
        const value = pool.adopt(structuredClone(descriptor));
        adopted.push(descriptor);
        drop(handle);
        expect(value).toBeInstanceOf(handle.frozenTransfer ? FrozenBuffer : IoBuffer);
        return add({ ...handle, kind: handle.frozenTransfer ? 'frozen' : 'io', value });
      }
      default:
        throw new Error(`unknown action ${action satisfies never}`);
    }
  };

  for (const op of ops) {
    const pool = instances[op.instance % instances.length]!;
    if (op.kind === 'chain') {
      // Half the chains go on with the newest handle, the others with any.
      let handle = live[op.pick % 2 === 0 ? live.length - 1 : (op.pick >> 1) % Math.max(1, live.length)];
      for (const next of op.steps) {
        if (!handle) break;
        const actions = ACTIONS[handle.kind];
        handle = step(handle, actions[next.action % actions.length]!, next, pool);
        check();
      }
    } else {
      switch (op.kind) {
        case 'alloc': {
          const size = SIZES[op.a % SIZES.length]!;
          const zeroed = op.b % 2 === 1;
          const buffer = zeroed ? pool.allocZeroed(size) : pool.alloc(size);
          if (zeroed) expect(buffer.bytes.every((byte) => byte === 0)).toBe(true);
          const classIndex = buffer.isPooled ? config.classIndexOf(size)! : -1;
          const backing = buffer.isPooled ? buffer.arrayBuffer : undefined;
          const offset = buffer.isPooled ? buffer.byteOffset : 0;
          // The slot must not be one the model holds.
          for (const handle of live) {
            const other = handle.memory;
            if (other.classIndex >= 0 && other.backing === backing) {
              const overlap = offset < other.offset + other.bytes.length && other.offset < offset + buffer.capacity;
              expect(overlap, `slot at ${offset} handed out while held`).toBe(false);
            }
          }
          // Stamp the whole capacity, so that a handle that drifts within its slot shows it.
          serial += 1;
          const bytes = Uint8Array.from({ length: buffer.capacity }, (_, i) => stamp(serial, i));
          if (zeroed) bytes.fill(0, 0, size);
          buffer.capacityBytes.set(bytes);
          // Most buffers get readable bytes at once: hand-offs of empty buffers show little.
          if (!zeroed) buffer.length = (op.b >> 1) % (buffer.capacity + 1);
          add({
            kind: 'io',
            memory: { classIndex, backing, offset, bytes, holders: 0 },
            start: 0,
            length: buffer.length,
            capacity: buffer.capacity,
            value: buffer,
            frozenTransfer: false,
          });
          break;
        }
        case 'release': {
          const releasable = live.filter((handle) => handle.kind !== 'transfer');
          const handle = releasable[op.pick % Math.max(1, releasable.length)];
          if (!handle) break;
          (handle.value as IoBuffer | FrozenBuffer).release();
          retire(handle);
          break;
        }
        case 'replay': {
          const descriptor = adopted[op.pick % Math.max(1, adopted.length)];
          if (descriptor) expectMemError(() => pool.adopt(descriptor), 'STALE_HANDLE');
          break;
        }
        case 'misuse': {
          const value = released[op.pick % Math.max(1, released.length)];
          if (!value) break;
          expectMemError(() => value.release(), 'DOUBLE_FREE');
          expectMemError(() => value.bytes, 'USE_AFTER_RELEASE');
          expectMemError(() => toNodeBuffer(value), 'USE_AFTER_RELEASE');
          expectMemError(() => value.transfer(), 'USE_AFTER_RELEASE');
          if (value instanceof IoBuffer) {
            expectMemError(() => value.freeze(), 'USE_AFTER_RELEASE');
            expectMemError(() => value.write([1]), 'USE_AFTER_RELEASE');
          } else {
            expectMemError(() => value.slice(0, 0), 'USE_AFTER_RELEASE');
            expectMemError(() => IoBuffer.tryFromFrozen(value), 'USE_AFTER_RELEASE');
          }
          break;
        }
        case 'flush':
          pool.flush();
          break;
      }
    }
    check();
  }

  // Give everything back (adopting what is in flight): every created slot comes out exactly once.
  for (const handle of [...live]) {
    const value = handle.kind === 'transfer' ? first.adopt(handle.value as BufferTransfer) : handle.value;
    (value as IoBuffer | FrozenBuffer).release();
    drop(handle);
  }
  check();
  for (const pool of instances.slice(1)) pool.close();
  for (const size of config.classSizes) {
    const all = Array.from({ length: config.maxPerClass }, () => first.tryAlloc(size));
    expect(new Set(all.map((buffer) => buffer.byteOffset)).size).toBe(config.maxPerClass);
    for (const buffer of all) buffer.release();
  }
  first.close();
}

describe('hand-offs against a model of the bytes every handle covers', () => {
  it('keeps every handle on its own bytes over random chains (private pool)', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(opArbitrary, { maxLength: 60 }), (prefill, ops) =>
        runChain(false, prefill, ops),
      ),
      { numRuns: 200 },
    );
  });

  it('keeps every handle on its own bytes over random chains (shared pool seen by two instances)', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(opArbitrary, { maxLength: 60 }), (prefill, ops) =>
        runChain(true, prefill, ops),
      ),
      { numRuns: 200 },
    );
  });
});
