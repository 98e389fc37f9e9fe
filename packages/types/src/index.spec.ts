import { describe, expect, it } from 'vitest';
import * as api from './index.js';
import { BackingMemory } from './backing-memory.js';
import { MemError } from './mem-error.js';

describe('@mem/types public face', () => {
  it('exports exactly the public runtime API, and nothing internal', () => {
    expect(Object.keys(api).sort()).toEqual(
      [
        'BackingMemory',
        'DisposableHandle',
        'LEAK_DETECTION_LEVELS',
        'LeakTracker',
        'MemError',
        'MemErrorCode',
        'RecordingMetricsSink',
        'WASM_PAGE_SIZE',
        'alignDown',
        'alignUp',
        'assertBoolean',
        'assertFunction',
        'assertInteger',
        'assertMetricsSink',
        'assertNonEmptyString',
        'assertNumber',
        'assertOneOf',
        'assertOptions',
        'assertPowerOfTwo',
        'assertRange',
        'assertSharedDescriptor',
        'assertSize',
        'ceilLog2',
        'describeValue',
        'descriptorTransferList',
        'invalidArgument',
        'isAligned',
        'mirrorCounter',
        'nextPowerOfTwo',
        'noopMetrics',
        'releaseWhenGone',
      ].sort(),
    );
  });

  it('re-exports the same objects as the modules', () => {
    expect(api.MemError).toBe(MemError);
    expect(api.BackingMemory).toBe(BackingMemory);
  });

  it('exports the documented constants', () => {
    expect(api.WASM_PAGE_SIZE).toBe(65536);
  });
});
