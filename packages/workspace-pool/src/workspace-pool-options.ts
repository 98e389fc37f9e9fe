/**
 * What a {@link WorkspacePool} takes and reports: the options of its methods, its log entries and
 * its stats.
 *
 * This module is browser compatible.
 * @module
 */
import type { MetricsSink } from '@mem/types';
import type { DefragmentationReport } from './defragmentation-report.js';
import type { SegmentProvider } from './segment.js';

/** Options of {@link WorkspacePool.acquire}. */
export interface AcquireOptions {
  /** A name for the workspace, shown in memory maps (`"attention.scores"`). @defaultValue none */
  readonly label?: string;
  /** Fill the workspace with zeros (reused memory holds what its last user left). @defaultValue false */
  readonly zero?: boolean;
}

/** Options of {@link WorkspacePool.defragment}. */
export interface DefragmentOptions {
  /**
   * Throw PINNED (with the report in `details.report`) instead of returning a report whose outcome
   * is `blocked-by-pins`. @defaultValue false
   */
  readonly throwIfBlocked?: boolean;
}

/** One entry of the pool's log: a defragmentation or an expansion. */
export interface WorkspaceLogEntry {
  /** `warn` for a defragmentation that could not reclaim anything from a fragmented pool. */
  readonly level: 'info' | 'warn';
  /** What happened. */
  readonly event: 'defragment' | 'expand';
  /** The pool's name. */
  readonly pool: string;
  /** One sentence for a log line. */
  readonly message: string;
  /** The defragmentation's report (event `defragment`). */
  readonly report?: DefragmentationReport;
  /** The new segment (event `expand`). */
  readonly segment?: {
    /** The segment's index in the pool. */
    readonly index: number;
    /** Its size in bytes. */
    readonly byteLength: number;
  };
}

/**
 * Receives the pool's log entries. It runs once the operation that logged is complete (an
 * `acquire` that expanded or compacted has its workspace; a release that defragmented reads as
 * released), so it may call any method of the pool; what it throws is ignored.
 */
export type WorkspaceLogger = (entry: WorkspaceLogEntry) => void;

/** Runtime wiring of a pool (what cannot travel in a configuration). */
export interface WorkspacePoolOptions {
  /** The pool's name in logs, metrics labels and memory maps. @defaultValue 'workspace-pool' */
  readonly name?: string;
  /** Receives every defragmentation and expansion. @defaultValue none */
  readonly logger?: WorkspaceLogger;
  /**
   * Where counters and gauges go (`mem_workspace_pool_*`, labelled `{ pool: name }`), published by
   * a collector at scrape time; the hot path only bumps integers. @defaultValue noopMetrics
   */
  readonly metrics?: MetricsSink;
  /**
   * Supplies segment memory instead of allocating it from `config.backing`. It runs in the middle
   * of the `acquire` that grows the pool (with the pool consistent, the new segment not yet
   * added): it may read the pool and acquire, release or defragment, but a call that would add
   * another segment throws IN_USE. @defaultValue none
   */
  readonly segmentSource?: SegmentProvider;
}

/** A snapshot of a pool's counters and memory, as plain numbers. */
export interface WorkspacePoolStats {
  /** Successful `acquire` calls. */
  readonly acquisitions: number;
  /** Releases. */
  readonly releases: number;
  /** Acquisitions that found no free block that fit and were served after a compaction or an expansion. */
  readonly misses: number;
  /** Segments added because nothing fitted. */
  readonly expansions: number;
  /** Defragmentations run (manual, threshold and miss). */
  readonly defragmentations: number;
  /** `1 - expansions / acquisitions`, 0 before the first acquisition. */
  readonly hitRate: number;
  /** Workspaces live now. */
  readonly liveWorkspaces: number;
  /** Live workspaces that are pinned. */
  readonly pinnedWorkspaces: number;
  /** Bytes of the blocks of live workspaces (sizes rounded up to the alignment). */
  readonly bytesInUse: number;
  /** Bytes the live workspaces asked for. */
  readonly bytesRequested: number;
  /** The most `bytesInUse` has been. */
  readonly peakBytesInUse: number;
  /** Bytes of all segments. */
  readonly bytesReserved: number;
  /** Free bytes in all segments. */
  readonly bytesFree: number;
  /** The largest free block: the largest request that fits without compaction or expansion. */
  readonly largestFreeBlock: number;
  /** `1 - largestFreeBlock / bytesFree`, 0 when nothing is free. */
  readonly fragmentation: number;
  /** Live segments. */
  readonly segments: number;
  /** Bytes copied by defragmentations. */
  readonly bytesMoved: number;
  /** Segments released by defragmentations. */
  readonly segmentsReleased: number;
  /** Bytes of those segments. */
  readonly bytesReleased: number;
}
