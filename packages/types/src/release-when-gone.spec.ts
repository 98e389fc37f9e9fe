import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { collectUntil } from '@mem/testkit/collect-garbage';
import { expectMemError } from '@mem/testkit/expect-mem-error';
import { releaseWhenGone } from './release-when-gone.js';

/** Registers in a frame of its own, so that nothing but the registry refers to the owner. */
function dropOwner(counts: { exit: number; collected: number }, withExit: boolean): void {
  releaseWhenGone(
    {},
    {
      ...(withExit ? { atExit: () => (counts.exit += 1) } : {}),
      afterCollection: () => (counts.collected += 1),
    },
  );
}

describe('releaseWhenGone', () => {
  it('runs afterCollection once the owner is collected, and not atExit', async () => {
    const counts = { exit: 0, collected: 0 };
    dropOwner(counts, true);
    await collectUntil(() => counts.collected > 0);
    expect(counts).toEqual({ exit: 0, collected: 1 });
  });

  it('runs neither release once cancelled', async () => {
    const counts = { exit: 0, collected: 0 };
    const owner = {};
    const cancel = releaseWhenGone(owner, { afterCollection: () => (counts.collected += 1) });
    cancel();
    cancel();
    await collectUntil(() => false, { attempts: 3 });
    expect(counts).toEqual({ exit: 0, collected: 0 });
    expect(owner).toEqual({});
  });

  it('runs atExit at a normal exit of the process, also after another atExit threw', () => {
    const script = `
      const { releaseWhenGone } = await import(${JSON.stringify(new URL('./release-when-gone.ts', import.meta.url).href)});
      const kept = [{}, {}];
      releaseWhenGone(kept[0], { atExit: () => { throw new Error('first'); }, afterCollection: () => {} });
      releaseWhenGone(kept[1], { atExit: () => console.log('released at exit'), afterCollection: () => {} });
      const cancelled = releaseWhenGone({}, { atExit: () => console.log('cancelled ran'), afterCollection: () => {} });
      cancelled();
      globalThis.kept = kept;
    `;
    const output = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      cwd: new URL('..', import.meta.url),
    });
    expect(output.trim()).toBe('released at exit');
  });

  it('releaseWhenGone refuses a non-object owner or a release that is not a function with INVALID_ARGUMENT', () => {
    const release = (): void => {};
    for (const owner of [undefined, null, 1, 'x']) {
      expectMemError(
        () => releaseWhenGone(owner as unknown as object, { afterCollection: release }),
        'INVALID_ARGUMENT',
      );
    }
    expectMemError(() => releaseWhenGone({}, { afterCollection: 1 as unknown as () => void }), 'INVALID_ARGUMENT');
    expectMemError(
      () => releaseWhenGone({}, { atExit: 'x' as unknown as () => void, afterCollection: release }),
      'INVALID_ARGUMENT',
    );
    expectMemError(() => releaseWhenGone({}, null as never), 'INVALID_ARGUMENT');
  });
});
