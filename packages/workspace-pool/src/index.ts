/**
 * `@mem/workspace-pool`: reusable scratch workspaces over real backing memory, with real
 * defragmentation and a worker-owned coordinator.
 *
 * - {@link WorkspacePool}: workspaces carved from segments of `ArrayBuffer`, `SharedArrayBuffer` or
 *   `WebAssembly.Memory`, served from size bins, coalesced on release, compacted by `defragment()`.
 * - {@link Workspace}: the handle (views re-resolved through it, pins, `using`).
 * - {@link WorkspaceConfig}: validated configuration with presets.
 * - {@link renderMemoryMap}: an SVG picture of `pool.snapshot()`.
 *
 * GPU memory (segments of `GPUBuffer`s, moved with `copyBufferToBuffer`) is at
 * `@mem/workspace-pool/webgpu`.
 *
 * This module is browser compatible.
 * @module \@mem/workspace-pool
 */
export {
  ALLOCATION_STRATEGIES,
  MAX_SEGMENT_SIZE,
  SEGMENT_BACKINGS,
  WorkspaceConfig,
  type AllocationStrategy,
  type SegmentBacking,
  type WorkspaceConfigOptions,
} from './workspace-config.js';
export { WorkspacePool } from './workspace-pool.js';
export type {
  AcquireOptions,
  DefragmentOptions,
  WorkspaceLogEntry,
  WorkspaceLogger,
  WorkspacePoolOptions,
  WorkspacePoolStats,
} from './workspace-pool-options.js';
export { Workspace } from './workspace.js';
export type { SegmentProvider, SegmentSource } from './segment.js';
export type { DeviceMemory, SegmentKind, SegmentMemory } from './device-memory.js';
export { fragmentationRatio, type FragmentationStats, type SegmentFragmentation } from './fragmentation.js';
export type {
  DefragmentationOutcome,
  DefragmentationReport,
  DefragmentationTrigger,
  SegmentDefragmentation,
} from './defragmentation-report.js';
export type { MemoryMapBlock, MemoryMapBlockState, MemoryMapSegment, MemoryMapSnapshot } from './memory-map.js';
export { renderMemoryMap, type MemoryMapColors, type RenderMemoryMapOptions } from './memory-map-svg.js';
export {
  WorkspaceCoordinator,
  type WorkerLike,
  type WorkspaceCoordinatorOptions,
} from './coordinator/workspace-coordinator.js';
export { WorkspaceClient, type SharedAcquireOptions } from './coordinator/workspace-client.js';
export { SharedWorkspace } from './coordinator/shared-workspace.js';
export type { WorkspaceClientDescriptor } from './coordinator/client-descriptor.js';
export { serveWorkspaceCoordinator } from './coordinator/coordinator-host.js';
export type { MessageEndpoint } from './coordinator/coordinator-protocol.js';
