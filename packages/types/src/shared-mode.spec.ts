import { describe, expect, it } from 'vitest';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { collectGarbage } from '@mem/testkit/collect-garbage';
import { MemError } from './mem-error.js';
import {
  assertSharedDescriptor,
  descriptorTransferList,
  type SharedAttachment,
  type SharedDescriptor,
} from './shared-mode.js';
import { sharedModeConformance, type SharedModeSubject } from './shared-mode-conformance.js';

interface CounterDescriptor extends SharedDescriptor<'mem.test-counter'> {
  readonly words: SharedArrayBuffer;
}

/** The smallest object that keeps the contract: a shared counter that each attachment bumps. */
class SharedCounter implements SharedAttachment<CounterDescriptor> {
  static readonly registry = new FinalizationRegistry<Int32Array>((words) => Atomics.sub(words, 1, 1));
  readonly #descriptor: CounterDescriptor;
  readonly #words: Int32Array;
  #closed = false;

  private constructor(descriptor: CounterDescriptor) {
    this.#descriptor = descriptor;
    this.#words = new Int32Array(descriptor.words);
    Atomics.add(this.#words, 1, 1);
    SharedCounter.registry.register(this, this.#words, this);
  }

  static createShared(): SharedCounter {
    return new SharedCounter({ kind: 'mem.test-counter', version: 1, words: new SharedArrayBuffer(8) });
  }

  static attach(descriptor: unknown): SharedCounter {
    return new SharedCounter(assertSharedDescriptor<CounterDescriptor>(descriptor, 'mem.test-counter', 1));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** How many attachments are open now, over every worker. */
  get attachments(): number {
    return Atomics.load(this.#words, 1);
  }

  bump(): number {
    if (this.#closed) throw new MemError('USE_AFTER_RELEASE', 'counter used after close()');
    return Atomics.add(this.#words, 0, 1) + 1;
  }

  descriptor(): CounterDescriptor {
    if (this.#closed) throw new MemError('USE_AFTER_RELEASE', 'descriptor() after close()');
    return this.#descriptor;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    SharedCounter.registry.unregister(this);
    Atomics.sub(this.#words, 1, 1);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

const counterSubject: SharedModeSubject<SharedCounter> = {
  kind: 'mem.test-counter',
  version: 1,
  create: () => SharedCounter.createShared(),
  attach: (descriptor) => SharedCounter.attach(descriptor),
  use: (counter) => counter.bump(),
  collectGarbage: async () => collectGarbage(),
};

describe('assertSharedDescriptor', () => {
  it('returns a descriptor of the expected kind and version', () => {
    const descriptor = { kind: 'mem.example', version: 2, extra: 1 };
    expect(assertSharedDescriptor(descriptor, 'mem.example', 2)).toBe(descriptor);
  });

  it.each([undefined, null, 1, 'mem.example', [], () => {}])('refuses %s with INVALID_ARGUMENT', (value) => {
    expect(expectMemError(() => assertSharedDescriptor(value, 'mem.example', 1), 'INVALID_ARGUMENT').message).toContain(
      'mem.example descriptor object',
    );
  });

  it('refuses another kind with INVALID_ARGUMENT naming both kinds', () => {
    const error = expectMemError(
      () => assertSharedDescriptor({ kind: 'mem.arena-pool', version: 1 }, 'mem.buffer-pool', 1),
      'INVALID_ARGUMENT',
    );
    expect(error.message).toContain('"mem.arena-pool"');
    expect(error.message).toContain('not mem.buffer-pool');
  });

  it('refuses another version with INVALID_ARGUMENT naming both versions', () => {
    const error = expectMemError(
      () => assertSharedDescriptor({ kind: 'mem.x', version: 2 }, 'mem.x', 1),
      'INVALID_ARGUMENT',
    );
    expect(error.message).toContain('layout version 2');
    expect(error.message).toContain('reads version 1');
  });
});

describe('descriptorTransferList', () => {
  it('lists the MessagePorts of a descriptor and nothing else', () => {
    const { port1, port2 } = new MessageChannel();
    const descriptor = { kind: 'mem.x', version: 1, port: port1, words: new SharedArrayBuffer(8), names: ['a'] };
    expect(descriptorTransferList(descriptor)).toEqual([port1]);
    expect(descriptorTransferList({ kind: 'mem.x', version: 1 })).toEqual([]);
    port1.close();
    port2.close();
  });
});

describe('sharedModeConformance on an object that keeps the contract', () => {
  it('is checked against a closed attachment whose descriptor() throws USE_AFTER_RELEASE', () => {
    const counter = SharedCounter.createShared();
    counter.close();
    expectMemError(() => counter.descriptor(), 'USE_AFTER_RELEASE');
    expectMemError(() => counter.bump(), 'USE_AFTER_RELEASE');
  });

  for (const check of sharedModeConformance(counterSubject)) it(check.name, check.run);

  it('offers the worker check only when the subject can run a worker', () => {
    const names = (subject: SharedModeSubject<SharedCounter>): string[] =>
      sharedModeConformance(subject).map((check) => check.name);
    expect(names(counterSubject).some((name) => name.includes('another worker'))).toBe(false);
    const withWorker = { ...counterSubject, inWorker: async (): Promise<void> => {} };
    expect(names(withWorker).some((name) => name.includes('another worker'))).toBe(true);
  });
});

describe('sharedModeConformance on objects that break the contract', () => {
  /** Runs every check and returns the names of those that failed. */
  async function failures(subject: SharedModeSubject<SharedCounter>): Promise<string[]> {
    const failed: string[] = [];
    for (const check of sharedModeConformance(subject)) {
      await check.run().catch(() => failed.push(check.name));
    }
    return failed;
  }

  it('passes every check for the object that keeps it', async () => {
    expect(await failures(counterSubject)).toEqual([]);
  });

  it('fails the refusal check when attach accepts another version', async () => {
    const lax = {
      ...counterSubject,
      attach: (descriptor: unknown) => SharedCounter.attach({ ...(descriptor as object), version: 1 }),
    };
    expect(await failures(lax)).toEqual([
      'refuses a descriptor that is not an object, of another kind, or of another version, with INVALID_ARGUMENT',
    ]);
  });

  it('fails the close check when a closed attachment still works', async () => {
    const immortal = { ...counterSubject, use: (counter: SharedCounter) => (counter.closed ? 0 : counter.bump()) };
    expect(await failures(immortal)).toEqual([
      'closes idempotently: closed reads true, and use and descriptor() throw USE_AFTER_RELEASE',
    ]);
  });

  it('fails the descriptor check when the kind is wrong', async () => {
    const misnamed = { ...counterSubject, kind: 'mem.other' };
    const failed = await failures(misnamed);
    expect(failed).toContain('describes itself with a structured-cloneable descriptor of kind mem.other, version 1');
  });

  it('fails the collection check when something keeps dropped attachments alive', async () => {
    const kept: SharedCounter[] = [];
    const hoarding = {
      ...counterSubject,
      attach: (descriptor: unknown) => {
        const counter = SharedCounter.attach(descriptor);
        kept.push(counter);
        return counter;
      },
    };
    expect(await failures(hoarding)).toEqual(['lets an attachment dropped without close() be garbage-collected']);
  });

  it('fails the creator check when an object claims its creator ends the others but it does not', async () => {
    const claimed = { ...counterSubject, closingCreatorEndsOthers: true };
    expect(await failures(claimed)).toEqual([
      'ends every attachment when the creating one closes: their methods throw USE_AFTER_RELEASE',
    ]);
  });

  it('fails the worker check with what the worker threw', async () => {
    const crashing = {
      ...counterSubject,
      inWorker: async (): Promise<void> => {
        throw new Error('worker crashed');
      },
    };
    expect(await failures(crashing)).toEqual([
      'serves another worker that attaches, uses and closes, and keeps working after it',
    ]);
  });
});
