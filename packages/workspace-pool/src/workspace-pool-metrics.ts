/**
 * Publishes a {@link WorkspacePool}'s counters and gauges to a metrics sink, read from its
 * `stats()` at scrape time: the hot path only bumps the pool's own integers.
 *
 * This module is browser compatible.
 * @module
 */
import { mirrorCounter, noopMetrics, type MetricsSink } from '@mem/types';
import type { WorkspacePoolStats } from './workspace-pool-options.js';

/**
 * Registers the pool's collector with `sink` (nothing for `noopMetrics`): counters
 * `mem_workspace_pool_*_total` and gauges `mem_workspace_pool_in_use_bytes`, `_reserved_bytes`,
 * `_live_workspaces` and `_fragmentation_ratio`, labelled `{ pool: name }`.
 * @internal
 */
export function publishPoolMetrics(sink: MetricsSink, name: string, read: () => WorkspacePoolStats): void {
  if (sink === noopMetrics) return;
  const labels = { pool: name };
  const counter = (metric: string, help: string): ((total: number) => void) =>
    mirrorCounter(sink.counter(`mem_workspace_pool_${metric}`, help, labels));
  const acquisitions = counter('acquisitions_total', 'Workspaces acquired');
  const releases = counter('releases_total', 'Workspaces released');
  const misses = counter('misses_total', 'Acquisitions that found no free block that fit');
  const expansions = counter('expansions_total', 'Segments added because nothing fitted');
  const defragmentations = counter('defragmentations_total', 'Defragmentations run');
  const bytesMoved = counter('moved_bytes_total', 'Bytes copied by defragmentation');
  const inUse = sink.gauge('mem_workspace_pool_in_use_bytes', 'Bytes of live workspaces', labels);
  const reserved = sink.gauge('mem_workspace_pool_reserved_bytes', 'Bytes of all segments', labels);
  const live = sink.gauge('mem_workspace_pool_live_workspaces', 'Live workspaces', labels);
  const fragmentation = sink.gauge(
    'mem_workspace_pool_fragmentation_ratio',
    '1 - largest free block / free bytes',
    labels,
  );
  sink.addCollector(() => {
    const stats = read();
    acquisitions(stats.acquisitions);
    releases(stats.releases);
    misses(stats.misses);
    expansions(stats.expansions);
    defragmentations(stats.defragmentations);
    bytesMoved(stats.bytesMoved);
    inUse.set(stats.bytesInUse);
    reserved.set(stats.bytesReserved);
    live.set(stats.liveWorkspaces);
    fragmentation.set(stats.fragmentation);
  });
}
