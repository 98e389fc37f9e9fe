import { describe, expect, it } from 'vitest';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { collectUntil } from '@mem/testkit/collect-garbage';
import { describeValue } from './describe-value.js';
import { LEAK_DETECTION_LEVELS, LeakTracker, type LeakReport, type LeakTrackerOptions } from './leak-tracker.js';
import type { MemError } from './mem-error.js';

function expectInvalid(fn: () => unknown, named: unknown): MemError {
  const error = expectMemError(fn, 'INVALID_ARGUMENT');
  expect(error.message).toContain(describeValue(named));
  return error;
}

const noLeak = (): void => {
  throw new Error('no leak expected');
};

/** Tracks a fresh object in its own frame and drops it: the object becomes garbage when this returns. */
function allocateLeakyBuffer<T>(tracker: LeakTracker<T>, held: T, resource: string): boolean {
  return tracker.track({ bytes: new Uint8Array(64) }, held, resource);
}

describe('LeakTracker options', () => {
  it('defaults to sampled mode, one resource in 128', () => {
    const tracker = new LeakTracker({ onLeak: noLeak });
    expect(tracker.level).toBe('sampled');
    expect(tracker.sampleInterval).toBe(128);
    expect(tracker.tracked).toBe(0);
    expect(tracker.leaks).toBe(0);
  });

  it('lists the levels off, sampled and paranoid', () => {
    expect(LEAK_DETECTION_LEVELS).toEqual(['off', 'sampled', 'paranoid']);
  });

  it.each(LEAK_DETECTION_LEVELS)('accepts the level %s', (level) => {
    expect(new LeakTracker({ level, onLeak: noLeak }).level).toBe(level);
  });

  it.each([
    ['an unknown level', 'verbose'],
    ['an upper-case level', 'OFF'],
    ['a number', 1],
  ])('rejects a level that is %s', (_label, level) => {
    const error = expectInvalid(
      () => new LeakTracker({ level, onLeak: noLeak } as unknown as LeakTrackerOptions<unknown>),
      level,
    );
    expect(error.message).toContain('off, sampled, paranoid');
  });

  it.each([
    ['zero', 0],
    ['negative', -1],
    ['fractional', 1.5],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['past 2^31 - 1', 2 ** 31],
    ['a numeric string', '8'],
  ])('rejects a sampleInterval that is %s', (_label, sampleInterval) => {
    const error = expectInvalid(
      () => new LeakTracker({ sampleInterval, onLeak: noLeak } as unknown as LeakTrackerOptions<unknown>),
      sampleInterval,
    );
    expect(error.message).toContain('sampleInterval');
  });

  it.each([
    ['missing', undefined],
    ['a string', 'console.warn'],
    ['an object', {}],
  ])('rejects an onLeak that is %s', (_label, onLeak) => {
    expectInvalid(() => new LeakTracker({ onLeak } as unknown as LeakTrackerOptions<unknown>), onLeak);
  });

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['a string', 'paranoid'],
  ])('rejects options that are %s', (_label, options) => {
    expectInvalid(() => new LeakTracker(options as unknown as LeakTrackerOptions<unknown>), options);
  });
});

describe('LeakTracker tracking', () => {
  it('tracks nothing when off', () => {
    const tracker = new LeakTracker({ level: 'off', onLeak: noLeak });
    expect(tracker.track({}, 1, 'buffer')).toBe(false);
    expect(tracker.tracked).toBe(0);
    expect(() => tracker.untrack({})).not.toThrow();
  });

  it('tracks every resource when paranoid', () => {
    const tracker = new LeakTracker({ level: 'paranoid', onLeak: noLeak });
    const targets = Array.from({ length: 5 }, () => ({}));
    expect(targets.map((target, i) => tracker.track(target, i, 'buffer'))).toEqual([true, true, true, true, true]);
    expect(tracker.tracked).toBe(5);
  });

  it('tracks one resource in sampleInterval when sampled, starting with the first', () => {
    const tracker = new LeakTracker({ level: 'sampled', sampleInterval: 4, onLeak: noLeak });
    const targets = Array.from({ length: 12 }, () => ({}));
    const decisions = targets.map((target, i) => tracker.track(target, i, 'buffer'));
    expect(decisions).toEqual([true, false, false, false, true, false, false, false, true, false, false, false]);
    expect(tracker.tracked).toBe(3);
  });

  it('tracks every resource when sampled with an interval of 1', () => {
    const tracker = new LeakTracker({ level: 'sampled', sampleInterval: 1, onLeak: noLeak });
    const targets = [{}, {}, {}];
    expect(targets.map((target) => tracker.track(target, 0, 'x'))).toEqual([true, true, true]);
  });

  it('stops tracking on untrack, and ignores untracking twice or untracking a stranger', () => {
    const tracker = new LeakTracker({ level: 'paranoid', onLeak: noLeak });
    const a = {};
    const b = {};
    tracker.track(a, 1, 'a');
    tracker.track(b, 2, 'b');
    tracker.untrack(a);
    expect(tracker.tracked).toBe(1);
    tracker.untrack(a);
    tracker.untrack({});
    expect(tracker.tracked).toBe(1);
    tracker.untrack(b);
    expect(tracker.tracked).toBe(0);
  });

  it('counts an object tracked twice once, and untracks it at once', () => {
    const tracker = new LeakTracker({ level: 'paranoid', onLeak: noLeak });
    const target = {};
    tracker.track(target, 1, 'first');
    tracker.track(target, 2, 'second');
    expect(tracker.tracked).toBe(1);
    tracker.untrack(target);
    expect(tracker.tracked).toBe(0);
  });

  it.each([
    ['a number', 1],
    ['a string', 'buffer'],
    ['null', null],
    ['undefined', undefined],
    ['a symbol', Symbol('buffer')],
  ])('rejects a target that is %s in every level, and ignores it in untrack', (_label, target) => {
    for (const level of LEAK_DETECTION_LEVELS) {
      const tracker = new LeakTracker({ level, sampleInterval: 1, onLeak: noLeak });
      expectInvalid(() => tracker.track(target as unknown as object, 0, 'x'), target);
      expect(() => tracker.untrack(target as unknown as object)).not.toThrow();
      expect(tracker.tracked).toBe(0);
    }
  });

  it('accepts a function as a target', () => {
    const tracker = new LeakTracker({ level: 'paranoid', onLeak: noLeak });
    expect(tracker.track(() => 0, 0, 'callback')).toBe(true);
  });
});

describe('LeakTracker leak reports after garbage collection', () => {
  it('reports a leaked resource in paranoid mode with its held value and allocation stack', async () => {
    const reports: LeakReport<number>[] = [];
    const tracker = new LeakTracker<number>({ level: 'paranoid', onLeak: (report) => reports.push(report) });
    expect(allocateLeakyBuffer(tracker, 7, 'buffer of 64 bytes')).toBe(true);
    expect(tracker.tracked).toBe(1);

    await collectUntil(() => reports.length > 0);

    expect(reports).toHaveLength(1);
    const [report] = reports;
    expect(report?.resource).toBe('buffer of 64 bytes');
    expect(report?.held).toBe(7);
    expect(report?.allocationStack).toContain('allocateLeakyBuffer');
    expect(report?.allocationStack).not.toContain('allocated here');
    expect(report?.allocationStack).not.toContain('captureStack');
    expect(report?.allocationStack).not.toContain('LeakTracker.track');
    expect(tracker.leaks).toBe(1);
    expect(tracker.tracked).toBe(0);
  });

  it('reports a leaked resource in sampled mode without an allocation stack', async () => {
    const reports: LeakReport<string>[] = [];
    const tracker = new LeakTracker<string>({
      level: 'sampled',
      sampleInterval: 1,
      onLeak: (report) => reports.push(report),
    });
    allocateLeakyBuffer(tracker, 'slot-3', 'page');

    await collectUntil(() => reports.length > 0);

    expect(reports).toEqual([{ resource: 'page', held: 'slot-3', allocationStack: undefined }]);
  });

  it('never reports a resource that was untracked before it was collected', async () => {
    const reports: LeakReport<string>[] = [];
    const tracker = new LeakTracker<string>({ level: 'paranoid', onLeak: (report) => reports.push(report) });
    (() => {
      const released = { bytes: new Uint8Array(8) };
      tracker.track(released, 'released', 'released buffer');
      tracker.untrack(released);
      tracker.track({ bytes: new Uint8Array(8) }, 'leaked', 'leaked buffer');
    })();

    await collectUntil(() => reports.length > 0);
    await collectUntil(() => false, { attempts: 3 }); // give a wrong report of the released buffer its chance

    expect(reports.map((report) => report.held)).toEqual(['leaked']);
    expect(tracker.leaks).toBe(1);
    expect(tracker.tracked).toBe(0);
  });

  it('reports an object tracked twice once, with its latest held value', async () => {
    const reports: LeakReport<number>[] = [];
    const tracker = new LeakTracker<number>({ level: 'paranoid', onLeak: (report) => reports.push(report) });
    (() => {
      const reused = {};
      tracker.track(reused, 1, 'first use');
      tracker.track(reused, 2, 'second use');
    })();

    await collectUntil(() => reports.length > 0);
    await collectUntil(() => false, { attempts: 3 });

    expect(reports.map((report) => [report.resource, report.held])).toEqual([['second use', 2]]);
    expect(tracker.tracked).toBe(0);
  });

  it('does not report a leak while the resource is still reachable', async () => {
    const reports: LeakReport<number>[] = [];
    const tracker = new LeakTracker<number>({ level: 'paranoid', onLeak: (report) => reports.push(report) });
    const alive = { bytes: new Uint8Array(8) };
    tracker.track(alive, 1, 'alive');
    await collectUntil(() => false, { attempts: 3 });
    expect(reports).toEqual([]);
    expect(tracker.tracked).toBe(1);
    tracker.untrack(alive);
  });
});

describe('LeakTracker: an onLeak handler that calls back into its tracker', () => {
  it('sees the leak already counted, and may track and untrack other resources', async () => {
    const seen: { tracked: number; leaks: number }[] = [];
    const kept: object[] = [];
    const tracker: LeakTracker<number> = new LeakTracker<number>({
      level: 'paranoid',
      onLeak: () => {
        seen.push({ tracked: tracker.tracked, leaks: tracker.leaks });
        const replacement = {};
        kept.push(replacement);
        expect(tracker.track(replacement, 2, 'replacement')).toBe(true);
        tracker.untrack(replacement);
        tracker.untrack(kept);
      },
    });
    allocateLeakyBuffer(tracker, 1, 'buffer');

    await collectUntil(() => seen.length > 0);

    expect(seen).toEqual([{ tracked: 0, leaks: 1 }]);
    expect(tracker.tracked).toBe(0);
    expect(tracker.leaks).toBe(1);
    expect(tracker.track(kept, 3, 'kept')).toBe(true);
    expect(tracker.tracked).toBe(1);
  });
});
