/**
 * `@mem/types`: the shared core of the mem toolkit. Errors with codes, one module of validators,
 * validated size and alignment arithmetic, safe disposable handles, backing memory over ArrayBuffer,
 * SharedArrayBuffer and WebAssembly.Memory, leak tracking, the shared-mode contract (its
 * conformance checks at `@mem/types/conformance`), and the stats and metrics contracts.
 *
 * This module is browser compatible.
 * @module \@mem/types
 */
export { MemError, MemErrorCode, type MemErrorOptions } from './mem-error.js';
export { describeValue } from './describe-value.js';
export { alignDown, alignUp, ceilLog2, isAligned, nextPowerOfTwo } from './size.js';
export {
  assertBoolean,
  assertFunction,
  assertInteger,
  assertNonEmptyString,
  assertNumber,
  assertOneOf,
  assertOptions,
  assertPowerOfTwo,
  assertRange,
  assertSize,
  invalidArgument,
  type IntegerRange,
} from './validators.js';
export {
  BackingMemory,
  WASM_PAGE_SIZE,
  type AllocateBackingOptions,
  type BackingKind,
  type BackingMemoryDescriptor,
  type BackingSource,
  type GrowListener,
  type TypedArrayConstructor,
  type WasmMemory,
} from './backing-memory.js';
export {
  RecordingMetricsSink,
  assertMetricsSink,
  mirrorCounter,
  noopMetrics,
  type Counter,
  type Gauge,
  type Histogram,
  type MetricLabels,
  type MetricSample,
  type MetricType,
  type MetricsSink,
} from './metrics.js';
export type { JsonValue, StatsSource } from './stats.js';
export { DisposableHandle } from './disposable-handle.js';
export { releaseWhenGone, type GoneReleases } from './release-when-gone.js';
export {
  assertSharedDescriptor,
  descriptorTransferList,
  type SharedAttachment,
  type SharedDescriptor,
} from './shared-mode.js';
export {
  LEAK_DETECTION_LEVELS,
  LeakTracker,
  type LeakDetectionLevel,
  type LeakReport,
  type LeakTrackerOptions,
} from './leak-tracker.js';
