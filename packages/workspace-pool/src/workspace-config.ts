/**
 * The configuration of a workspace pool: a validated, frozen value with presets for large models,
 * small models and tight memory budgets.
 *
 * This module is browser compatible.
 * @module
 */
import {
  WASM_PAGE_SIZE,
  alignDown,
  alignUp,
  assertBoolean,
  assertInteger,
  assertNumber,
  assertOneOf,
  assertOptions,
  assertPowerOfTwo,
  assertSize,
  invalidArgument,
  isAligned,
} from '@mem/types';

/**
 * How the pool picks a free block for a request.
 *
 * - `best-fit`: the smallest free block that fits among at most 8 candidates of the request's size
 *   class (an exact size match ends the search), else the first block of the next non-empty class
 *   (classes span 1/16 of a power of two, so it is at most 1/16 larger than the best). Least waste.
 * - `first-fit`: the first block of the first size class whose every block fits; O(1), no scan.
 * - `exact-fit`: a free block of exactly the request's (aligned) size if one exists; otherwise it
 *   carves the request from the largest free block, so that blocks of recurring sizes stay whole
 *   for the shapes that recur.
 * - `power-of-two`: the request is rounded up to a power of two, then served best-fit; few
 *   distinct block sizes, at the cost of up to half a block of internal waste.
 */
export type AllocationStrategy = 'best-fit' | 'first-fit' | 'exact-fit' | 'power-of-two';

/** Every {@link AllocationStrategy}, for validation and option lists. */
export const ALLOCATION_STRATEGIES: readonly AllocationStrategy[] = Object.freeze([
  'best-fit',
  'first-fit',
  'exact-fit',
  'power-of-two',
]);

/**
 * What memory the pool's segments are made of.
 *
 * - `array-buffer`: one `ArrayBuffer` per segment (the default).
 * - `shared-array-buffer`: one `SharedArrayBuffer` per segment, visible to every worker it is sent to.
 * - `wasm-memory`: one `WebAssembly.Memory` per segment (segment sizes round up to 64 KiB pages),
 *   so that WASM kernels can be handed the segment's memory.
 * - `shared-wasm-memory`: the same, created with `shared: true`.
 *
 * To carve segments out of memory you already own (your WASM heap), pass a `segmentSource` to
 * the pool instead.
 */
export type SegmentBacking = 'array-buffer' | 'shared-array-buffer' | 'wasm-memory' | 'shared-wasm-memory';

/** Every {@link SegmentBacking}, for validation and option lists. */
export const SEGMENT_BACKINGS: readonly SegmentBacking[] = Object.freeze([
  'array-buffer',
  'shared-array-buffer',
  'wasm-memory',
  'shared-wasm-memory',
]);

/** The largest segment, and so the largest workspace: 2 GiB (every typed array and wasm32 can address it). */
export const MAX_SEGMENT_SIZE = 2 ** 31;

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/**
 * The plain options a {@link WorkspaceConfig} is made from. Every field is optional; the defaults
 * are those of {@link WorkspaceConfig.defaults}. All values are numbers, booleans and strings, so
 * options survive `postMessage` (the coordinator sends them to its worker).
 */
export interface WorkspaceConfigOptions {
  /**
   * Bytes reserved when the pool is created (the initial reservation, never released by
   * defragmentation). Rounded up to the alignment (to 64 KiB for wasm memory).
   * @defaultValue 1 MiB
   */
  readonly initialSize?: number;
  /** The most bytes the pool may reserve in all its segments together. @defaultValue 1 GiB */
  readonly maxSize?: number;
  /**
   * How much the reservation grows when an allocation finds no room: a new segment brings the
   * total to `reserved * growthFactor` (at least what the request needs). A number in [1, 16].
   * @defaultValue 2
   */
  readonly growthFactor?: number;
  /** How a free block is chosen. @defaultValue 'best-fit' */
  readonly strategy?: AllocationStrategy;
  /** Whether the pool adds segments when nothing fits; without it such a request fails with EXHAUSTED. @defaultValue true */
  readonly autoExpand?: boolean;
  /**
   * Whether the pool defragments by itself when its fragmentation reaches `defragThreshold`
   * (checked every `defragCheckInterval` releases). @defaultValue false
   */
  readonly enableDefragmentation?: boolean;
  /** The fragmentation ratio in [0, 1] at which automatic defragmentation runs. @defaultValue 0.5 */
  readonly defragThreshold?: number;
  /** How many releases pass between two checks of the threshold: an integer >= 1. @defaultValue 256 */
  readonly defragCheckInterval?: number;
  /**
   * Whether an allocation that finds no fit first compacts the segment with the most free bytes
   * (when that segment has enough free bytes in total) before it expands the pool or fails.
   * @defaultValue true
   */
  readonly defragmentOnMiss?: boolean;
  /**
   * The alignment of every workspace and the granule of every block size: a power of two in
   * [8, 65536]. 8 suits every typed array; use 256 for WebGPU buffer offsets. @defaultValue 64
   */
  readonly alignment?: number;
  /**
   * The largest segment the pool creates, and so the largest workspace: at most 2 GiB.
   * @defaultValue min(1 GiB, maxSize)
   */
  readonly maxSegmentSize?: number;
  /** What memory segments are made of. @defaultValue 'array-buffer' */
  readonly backing?: SegmentBacking;
}

/**
 * A validated, frozen workspace-pool configuration. Make one from options with
 * {@link WorkspaceConfig.from}, or start from a preset and change it with {@link WorkspaceConfig.with}.
 *
 * | preset              | initialSize | maxSize | growthFactor | defragmentation |
 * | ------------------- | ----------- | ------- | ------------ | --------------- |
 * | `defaults()`        | 1 MiB       | 1 GiB   | 2            | off, 0.5        |
 * | `largeModel()`      | 64 MiB      | 8 GiB   | 1.5          | off, 0.5        |
 * | `smallModel()`      | 256 KiB     | 128 MiB | 2            | off, 0.5        |
 * | `memoryOptimized()` | 512 KiB     | 256 MiB | 1.2          | on, 0.3         |
 *
 * @example
 * ```ts
 * import { WorkspaceConfig } from '@mem/workspace-pool';
 * const config = WorkspaceConfig.largeModel().with({ strategy: 'first-fit', alignment: 256 });
 * config.initialSize; // 67108864
 * ```
 */
export class WorkspaceConfig {
  /** Bytes reserved at creation, rounded up to the alignment (to 64 KiB pages for wasm memory). */
  readonly initialSize: number;
  /** The most bytes the pool may reserve. */
  readonly maxSize: number;
  /** The growth of the reservation per expansion, in [1, 16]. */
  readonly growthFactor: number;
  /** How a free block is chosen. */
  readonly strategy: AllocationStrategy;
  /** Whether the pool adds segments when nothing fits. */
  readonly autoExpand: boolean;
  /** Whether the pool defragments by itself at `defragThreshold`. */
  readonly enableDefragmentation: boolean;
  /** The fragmentation ratio at which automatic defragmentation runs. */
  readonly defragThreshold: number;
  /** Releases between two threshold checks. */
  readonly defragCheckInterval: number;
  /** Whether an allocation without a fit compacts a segment before expanding. */
  readonly defragmentOnMiss: boolean;
  /** The alignment and size granule of every block. */
  readonly alignment: number;
  /** The largest segment (and workspace) in bytes. */
  readonly maxSegmentSize: number;
  /** What memory segments are made of. */
  readonly backing: SegmentBacking;

  private constructor(values: Required<WorkspaceConfigOptions>) {
    this.initialSize = values.initialSize;
    this.maxSize = values.maxSize;
    this.growthFactor = values.growthFactor;
    this.strategy = values.strategy;
    this.autoExpand = values.autoExpand;
    this.enableDefragmentation = values.enableDefragmentation;
    this.defragThreshold = values.defragThreshold;
    this.defragCheckInterval = values.defragCheckInterval;
    this.defragmentOnMiss = values.defragmentOnMiss;
    this.alignment = values.alignment;
    this.maxSegmentSize = values.maxSegmentSize;
    this.backing = values.backing;
    Object.freeze(this);
  }

  /**
   * Validates `options` over the defaults and returns the configuration.
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT naming the first bad option, its value and what was expected
   * (unknown option names included).
   *
   * @example
   * ```ts
   * import { WorkspaceConfig } from '@mem/workspace-pool';
   * const config = WorkspaceConfig.from({ initialSize: 4 << 20, strategy: 'best-fit' });
   * ```
   */
  static from(options: WorkspaceConfigOptions = {}): WorkspaceConfig {
    if (options instanceof WorkspaceConfig) return options;
    return new WorkspaceConfig(validate(options, DEFAULTS));
  }

  /** The default: 1 MiB initial, 1 GiB max, growth 2, best fit, no automatic defragmentation. Cost: O(1). */
  static defaults(): WorkspaceConfig {
    return WorkspaceConfig.from({});
  }

  /** For large models: 64 MiB initial, 8 GiB max, growth 1.5. Cost: O(1). */
  static largeModel(): WorkspaceConfig {
    return WorkspaceConfig.from({ initialSize: 64 * MiB, maxSize: 8 * GiB, growthFactor: 1.5 });
  }

  /** For small models: 256 KiB initial, 128 MiB max, growth 2. Cost: O(1). */
  static smallModel(): WorkspaceConfig {
    return WorkspaceConfig.from({ initialSize: 256 * 1024, maxSize: 128 * MiB, growthFactor: 2 });
  }

  /**
   * For a tight budget: 512 KiB initial, 256 MiB max, growth 1.2, automatic defragmentation at a
   * fragmentation of 0.3. Cost: O(1).
   */
  static memoryOptimized(): WorkspaceConfig {
    return WorkspaceConfig.from({
      initialSize: 512 * 1024,
      maxSize: 256 * MiB,
      growthFactor: 1.2,
      enableDefragmentation: true,
      defragThreshold: 0.3,
    });
  }

  /**
   * A copy with `changes` applied and validated together with the rest (a preset's
   * `maxSegmentSize` follows a new `maxSize` unless given).
   * Cost: O(1).
   * @throws MemError INVALID_ARGUMENT as {@link WorkspaceConfig.from} does.
   */
  with(changes: WorkspaceConfigOptions): WorkspaceConfig {
    optionsObject(changes, 'changes');
    const base: { -readonly [K in keyof WorkspaceConfigOptions]: WorkspaceConfigOptions[K] } = this.toJSON();
    // A maxSegmentSize derived from the old maxSize and granule must not pin the new ones.
    if (
      changes.maxSegmentSize === undefined &&
      this.maxSegmentSize === derivedSegmentSize(this.maxSize, this.segmentGranule)
    ) {
      delete base.maxSegmentSize;
    }
    return new WorkspaceConfig(validate(changes, { ...DEFAULTS, ...base }, 'changes'));
  }

  /** The configuration as plain options (for logs, or to send to a worker). Cost: O(1). */
  toJSON(): Required<WorkspaceConfigOptions> {
    return {
      initialSize: this.initialSize,
      maxSize: this.maxSize,
      growthFactor: this.growthFactor,
      strategy: this.strategy,
      autoExpand: this.autoExpand,
      enableDefragmentation: this.enableDefragmentation,
      defragThreshold: this.defragThreshold,
      defragCheckInterval: this.defragCheckInterval,
      defragmentOnMiss: this.defragmentOnMiss,
      alignment: this.alignment,
      maxSegmentSize: this.maxSegmentSize,
      backing: this.backing,
    };
  }

  /** The granule segment sizes are rounded to: the alignment, or 64 KiB for wasm memory. Cost: O(1). */
  get segmentGranule(): number {
    return this.backing === 'wasm-memory' || this.backing === 'shared-wasm-memory'
      ? Math.max(WASM_PAGE_SIZE, this.alignment)
      : this.alignment;
  }
}

type Defaults = Omit<Required<WorkspaceConfigOptions>, 'maxSegmentSize'> & { maxSegmentSize?: number };

const DEFAULTS: Defaults = {
  initialSize: 1 * MiB,
  maxSize: 1 * GiB,
  growthFactor: 2,
  strategy: 'best-fit',
  autoExpand: true,
  enableDefragmentation: false,
  defragThreshold: 0.5,
  defragCheckInterval: 256,
  defragmentOnMiss: true,
  alignment: 64,
  backing: 'array-buffer',
};

const OPTION_NAMES: readonly string[] = [...Object.keys(DEFAULTS), 'maxSegmentSize'];

/** `value` as options: an object (`undefined` is refused too) with known keys only. */
function optionsObject(value: unknown, name: string): WorkspaceConfigOptions {
  if (value === undefined) throw invalidArgument(name, value, 'an object');
  return assertOptions<WorkspaceConfigOptions>(value, name, OPTION_NAMES);
}

function validate(value: WorkspaceConfigOptions, base: Defaults, name = 'options'): Required<WorkspaceConfigOptions> {
  const options = optionsObject(value, name);
  const pick = <K extends keyof WorkspaceConfigOptions>(key: K): unknown =>
    options[key] === undefined ? base[key] : options[key];

  const alignment = assertPowerOfTwo(pick('alignment'), 'alignment', 65536);
  if (alignment < 8) throw invalidArgument('alignment', alignment, 'a power of two in [8, 65536]');
  const backing = assertOneOf(pick('backing'), 'backing', SEGMENT_BACKINGS);
  const granule =
    backing === 'wasm-memory' || backing === 'shared-wasm-memory' ? Math.max(WASM_PAGE_SIZE, alignment) : alignment;
  const maxSize = assertSize(pick('maxSize'), 'maxSize', { min: granule });
  const maxSegmentSizeOption = pick('maxSegmentSize') ?? derivedSegmentSize(maxSize, granule);
  const maxSegmentSize = assertSize(maxSegmentSizeOption, 'maxSegmentSize', { min: granule, max: MAX_SEGMENT_SIZE });
  if (!isAligned(maxSegmentSize, granule)) {
    throw invalidArgument('maxSegmentSize', maxSegmentSize, `a multiple of ${granule} (the segment granule)`);
  }
  const initialSizeOption = assertSize(pick('initialSize'), 'initialSize', { min: 1, max: maxSize });
  const initialSize = alignUp(initialSizeOption, granule);
  if (initialSize > maxSize) {
    throw invalidArgument(
      'initialSize',
      initialSizeOption,
      `at most maxSize ${maxSize} once rounded up to a multiple of ${granule} (it rounds up to ${initialSize})`,
    );
  }
  return {
    initialSize,
    maxSize,
    growthFactor: assertNumber(pick('growthFactor'), 'growthFactor', 1, 16),
    strategy: assertOneOf(pick('strategy'), 'strategy', ALLOCATION_STRATEGIES),
    autoExpand: assertBoolean(pick('autoExpand'), 'autoExpand'),
    enableDefragmentation: assertBoolean(pick('enableDefragmentation'), 'enableDefragmentation'),
    defragThreshold: assertNumber(pick('defragThreshold'), 'defragThreshold', 0, 1),
    defragCheckInterval: assertInteger(pick('defragCheckInterval'), 'defragCheckInterval', { min: 1, max: 0x7fffffff }),
    defragmentOnMiss: assertBoolean(pick('defragmentOnMiss'), 'defragmentOnMiss'),
    alignment,
    maxSegmentSize,
    backing,
  };
}

function derivedSegmentSize(maxSize: number, granule: number): number {
  return Math.min(GiB, alignDown(maxSize, granule));
}
