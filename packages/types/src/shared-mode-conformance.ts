/**
 * The conformance checks every shared-mode object passes: the contract of `./shared-mode.ts`
 * turned into runnable checks, independent of any test framework.
 *
 * Register each check with your runner:
 *
 * ```ts
 * for (const check of sharedModeConformance(subject)) it(check.name, check.run);
 * ```
 *
 * The checks that need another worker or a garbage collection run only when the subject says
 * how (`inWorker`, `collectGarbage`); the rest run anywhere.
 *
 * This module is browser compatible.
 * @module \@mem/types/conformance
 */
import { MemError, type MemErrorCode } from './mem-error.js';
import { descriptorTransferList, type SharedAttachment, type SharedDescriptor } from './shared-mode.js';

/**
 * How the conformance checks create, attach to and use one kind of shared object. `Origin` is
 * what creating gives (often the same type as an attachment).
 */
export interface SharedModeSubject<Origin extends SharedAttachment, Attachment extends SharedAttachment = Origin> {
  /** The descriptor kind the object announces, such as `'mem.buffer-pool'`. */
  readonly kind: string;
  /** The layout version the object announces. */
  readonly version: number;
  /** Creates a new shared object; the result is the creating worker's attachment. */
  create(): Origin | Promise<Origin>;
  /** The type's `attach`: attaches this worker through a descriptor. */
  attach(descriptor: unknown): Attachment | Promise<Attachment>;
  /**
   * One representative operation that must work on an open attachment and throw
   * `USE_AFTER_RELEASE` on a closed one (an allocation and its release, say). It should release
   * what it takes, so that nothing it returns keeps the attachment alive.
   */
  use(attachment: Origin | Attachment): unknown;
  /**
   * Whether the shared state lives in the creator, so that closing the creating attachment ends
   * every other one (a coordinator thread); checked either way. @defaultValue false
   */
  readonly closingCreatorEndsOthers?: boolean;
  /**
   * Optional: runs `descriptor` through a real worker that attaches, uses and closes it; resolves
   * when the worker has finished and rejects with what the worker threw.
   */
  inWorker?(descriptor: SharedDescriptor): Promise<void>;
  /**
   * Optional: a full garbage collection that also lets finalizers run (for example, `gc()` and a
   * few turns of the event loop). Enables the check that a dropped attachment is collectable.
   */
  collectGarbage?(): Promise<void>;
}

/** One named check; `run` resolves when it passes and rejects with what failed. */
export interface ConformanceCheck {
  /** A sentence naming the promise checked. */
  readonly name: string;
  /** Runs the check. */
  readonly run: () => Promise<void>;
}

class ConformanceFailure extends Error {
  override readonly name = 'ConformanceFailure';
}

function fail(message: string): never {
  throw new ConformanceFailure(message);
}

async function expectMemError(action: () => unknown, code: MemErrorCode, what: string): Promise<MemError> {
  try {
    await action();
  } catch (error) {
    if (MemError.is(error, code)) return error;
    fail(
      `${what}: expected MemError ${code}, got ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
    );
  }
  return fail(`${what}: expected MemError ${code}, but it returned`);
}

/**
 * The conformance checks of one shared-mode object kind. Each check creates what it needs and
 * closes every attachment it made, also when it fails.
 * Cost: a few objects created per check.
 * @throws never; the checks report failures when run.
 *
 * @example
 * ```ts
 * import { sharedModeConformance } from '@mem/types/conformance';
 * declare const subject: Parameters<typeof sharedModeConformance>[0];
 * for (const check of sharedModeConformance(subject)) console.log(check.name);
 * ```
 */
export function sharedModeConformance<Origin extends SharedAttachment, Attachment extends SharedAttachment = Origin>(
  subject: SharedModeSubject<Origin, Attachment>,
): ConformanceCheck[] {
  type Opened = (Origin | Attachment)[];
  const withCreated = async (body: (created: Origin, opened: Opened) => Promise<void>): Promise<void> => {
    const created = await subject.create();
    const opened: Opened = [created];
    try {
      await body(created, opened);
    } finally {
      // Attachments first: the creator may host the state they talk to.
      for (const attachment of opened.reverse()) await attachment.close();
    }
  };
  const clone = (descriptor: SharedDescriptor): SharedDescriptor =>
    structuredClone(descriptor, { transfer: descriptorTransferList(descriptor) });
  const attachTo = async (opened: Opened, descriptor: unknown): Promise<Attachment> => {
    const attachment = await subject.attach(descriptor);
    opened.push(attachment);
    return attachment;
  };

  const checks: ConformanceCheck[] = [
    {
      name: `describes itself with a structured-cloneable descriptor of kind ${subject.kind}, version ${subject.version}`,
      run: () =>
        withCreated(async (created) => {
          const descriptor = created.descriptor();
          if (descriptor.kind !== subject.kind)
            fail(`descriptor kind is ${String(descriptor.kind)}, not ${subject.kind}`);
          if (descriptor.version !== subject.version) {
            fail(`descriptor version is ${String(descriptor.version)}, not ${subject.version}`);
          }
          const cloned = clone(descriptor);
          if (cloned.kind !== subject.kind || cloned.version !== subject.version)
            fail('a cloned descriptor lost its kind or version');
        }),
    },
    {
      name: 'attaches through a cloned descriptor, and the attachment works',
      run: () =>
        withCreated(async (created, opened) => {
          const attached = await attachTo(opened, clone(created.descriptor()));
          if (attached.closed) fail('a new attachment reads closed');
          await subject.use(attached);
          await subject.use(created);
        }),
    },
    {
      name: 'refuses a descriptor that is not an object, of another kind, or of another version, with INVALID_ARGUMENT',
      run: () =>
        withCreated(async (created) => {
          const descriptor = created.descriptor();
          const bad: [string, unknown][] = [
            ['undefined', undefined],
            ['null', null],
            ['a number', 1],
            ['a string', subject.kind],
            ['an array', [descriptor]],
            ['an empty object', {}],
            ['another kind', { ...descriptor, kind: `${subject.kind}.other` }],
            ['another version', { ...descriptor, version: subject.version + 1 }],
            ['no version', { ...descriptor, version: undefined }],
          ];
          for (const [label, value] of bad) {
            await expectMemError(() => subject.attach(value), 'INVALID_ARGUMENT', `attach(${label})`);
          }
          await subject.use(created);
        }),
    },
    {
      name: 'closes idempotently: closed reads true, and use and descriptor() throw USE_AFTER_RELEASE',
      run: () =>
        withCreated(async (created, opened) => {
          const attached = await attachTo(opened, created.descriptor());
          await attached.close();
          await attached.close();
          if (!attached.closed) fail('closed reads false after close()');
          await expectMemError(() => subject.use(attached), 'USE_AFTER_RELEASE', 'use after close()');
          await expectMemError(() => attached.descriptor(), 'USE_AFTER_RELEASE', 'descriptor() after close()');
        }),
    },
    {
      name: 'keeps other attachments working when one closes',
      run: () =>
        withCreated(async (created, opened) => {
          const first = await attachTo(opened, created.descriptor());
          const second = await attachTo(opened, created.descriptor());
          await first.close();
          await subject.use(second);
          await subject.use(created);
          const third = await attachTo(opened, second.descriptor());
          await subject.use(third);
        }),
    },
    subject.closingCreatorEndsOthers === true
      ? {
          name: 'ends every attachment when the creating one closes: their methods throw USE_AFTER_RELEASE',
          run: () =>
            withCreated(async (created, opened) => {
              const attached = await attachTo(opened, created.descriptor());
              await created.close();
              await expectMemError(() => subject.use(attached), 'USE_AFTER_RELEASE', 'use after the creator closed');
            }),
        }
      : {
          name: 'keeps the other attachments working when the creating one closes',
          run: () =>
            withCreated(async (created, opened) => {
              const attached = await attachTo(opened, created.descriptor());
              await created.close();
              await subject.use(attached);
              const next = await attachTo(opened, attached.descriptor());
              await subject.use(next);
            }),
        },
    {
      name: 'closes on Symbol.dispose',
      run: () =>
        withCreated(async (created, opened) => {
          const attached = await attachTo(opened, created.descriptor());
          const dispose = (attached as unknown as Record<symbol, unknown>)[Symbol.dispose];
          if (typeof dispose !== 'function') fail('the attachment has no Symbol.dispose method');
          (dispose as () => void).call(attached);
          // An attachment that must tell another thread may finish closing asynchronously.
          for (let turn = 0; turn < 100 && !attached.closed; turn += 1)
            await new Promise((resolve) => setTimeout(resolve, 1));
          if (!attached.closed) fail('Symbol.dispose did not close the attachment');
        }),
    },
  ];

  const { inWorker, collectGarbage } = subject;
  if (inWorker !== undefined) {
    checks.push({
      name: 'serves another worker that attaches, uses and closes, and keeps working after it',
      run: () =>
        withCreated(async (created) => {
          await inWorker.call(subject, created.descriptor());
          await subject.use(created);
        }),
    });
  }
  if (collectGarbage !== undefined) {
    checks.push({
      name: 'lets an attachment dropped without close() be garbage-collected',
      run: () =>
        withCreated(async (created) => {
          const dropped = await attachDropped(subject, created.descriptor());
          for (let attempt = 0; attempt < 20 && dropped.deref() !== undefined; attempt += 1) {
            // A WeakRef keeps its target until the current task ends, so collect in a new task.
            await new Promise((resolve) => setTimeout(resolve, 1));
            await collectGarbage.call(subject);
          }
          if (dropped.deref() !== undefined) fail('an attachment dropped without close() was never collected');
          await subject.use(created);
        }),
    });
  }
  return checks;
}

/** Attaches, uses and drops an attachment in a frame of its own, so that only a WeakRef remains. */
async function attachDropped<Origin extends SharedAttachment, Attachment extends SharedAttachment>(
  subject: SharedModeSubject<Origin, Attachment>,
  descriptor: SharedDescriptor,
): Promise<WeakRef<Attachment>> {
  const attachment = await subject.attach(descriptor);
  await subject.use(attachment);
  return new WeakRef(attachment);
}
