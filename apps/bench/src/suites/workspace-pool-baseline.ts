/**
 * The baseline of the workspace-pool suite: a workspace pool of the common linear-scan design,
 * written as such pools usually are in Rust and kept as close to that shape as TypeScript allows.
 * It tracks sizes and ids only (no memory), scans every workspace on each best-fit or first-fit
 * allocation, recomputes the bucket sizes on every call, and its `defragment()` merges unrelated
 * free workspaces and always reports 0 bytes freed. `HashMap` becomes `Map` (insertion order
 * instead of Rust's random order), `VecDeque` an array, `retain` a filter.
 */

/** `AllocationStrategy` of the Rust pool. */
export type BaselineAllocationStrategy = 'BestFit' | 'FirstFit' | 'ExactFit' | 'PowerOfTwo';

/** `WorkspaceConfig` of the Rust pool. */
export interface BaselineWorkspaceConfig {
  initialSize: number;
  maxSize: number;
  growthFactor: number;
  strategy: BaselineAllocationStrategy;
  autoExpand: boolean;
  enableDefragmentation: boolean;
  defragThreshold: number;
  numBuckets: number;
}

/** `WorkspaceConfig::default()` of the Rust pool. */
export function baselineDefaultConfig(): BaselineWorkspaceConfig {
  return {
    initialSize: 1024 * 1024,
    maxSize: 1024 * 1024 * 1024,
    growthFactor: 2.0,
    strategy: 'BestFit',
    autoExpand: true,
    enableDefragmentation: false,
    defragThreshold: 0.5,
    numBuckets: 16,
  };
}

/** `Workspace` of the Rust pool. */
class BaselineWorkspace {
  inUse = false;
  allocationCount = 0;
  constructor(
    readonly id: string,
    readonly size: number,
  ) {}

  acquire(): void {
    if (this.inUse) throw new Error('Workspace is in use');
    this.inUse = true;
    this.allocationCount += 1;
  }

  release(): void {
    this.inUse = false;
  }
}

/** `WorkspaceStats` of the Rust pool. */
export interface BaselineWorkspaceStats {
  totalCreated: number;
  totalAllocations: number;
  totalReleases: number;
  totalExpansions: number;
  totalDefragmentations: number;
  currentTotalSize: number;
}

/** `WorkspacePool` of the Rust pool. */
export class BaselineWorkspacePool {
  readonly config: BaselineWorkspaceConfig;
  readonly workspaces = new Map<string, BaselineWorkspace>();
  readonly freeLists = new Map<number, string[]>();
  nextId = 0;
  readonly stats: BaselineWorkspaceStats = {
    totalCreated: 0,
    totalAllocations: 0,
    totalReleases: 0,
    totalExpansions: 0,
    totalDefragmentations: 0,
    currentTotalSize: 0,
  };

  constructor(config: BaselineWorkspaceConfig) {
    this.config = config;
    this.preallocateWorkspaces();
  }

  private preallocateWorkspaces(): void {
    for (const size of this.computeBucketSizes()) this.createWorkspace(size);
  }

  private computeBucketSizes(): number[] {
    const sizes: number[] = [];
    let size = this.config.initialSize;
    for (let i = 0; i < this.config.numBuckets; i += 1) {
      sizes.push(size);
      size = Math.floor(size * this.config.growthFactor);
      if (size > this.config.maxSize) break;
    }
    return sizes;
  }

  private createWorkspace(size: number): string {
    const id = `ws_${this.nextId}`;
    this.nextId += 1;
    this.workspaces.set(id, new BaselineWorkspace(id, size));
    const bucket = this.sizeToBucket(size);
    let list = this.freeLists.get(bucket);
    if (list === undefined) this.freeLists.set(bucket, (list = []));
    list.push(id);
    this.stats.totalCreated += 1;
    this.stats.currentTotalSize += size;
    return id;
  }

  private sizeToBucket(size: number): number {
    if (this.config.strategy === 'PowerOfTwo') return 2 ** Math.ceil(Math.log2(Math.max(1, size)));
    const sizes = this.computeBucketSizes();
    return sizes.find((s) => s >= size) ?? size;
  }

  /** `allocate`: returns a workspace id. */
  allocate(size: number): string {
    if (size > this.config.maxSize) throw new Error(`Invalid workspace size: ${size}`);
    let workspaceId: string | undefined;
    switch (this.config.strategy) {
      case 'BestFit':
        workspaceId = this.findBestFit(size);
        break;
      case 'FirstFit':
        workspaceId = this.findFirstFit(size);
        break;
      case 'ExactFit':
        workspaceId = this.findExactFit(size);
        break;
      case 'PowerOfTwo':
        workspaceId = this.findFirstFit(2 ** Math.ceil(Math.log2(Math.max(1, size))));
        break;
    }
    if (workspaceId !== undefined) {
      this.workspaces.get(workspaceId)!.acquire();
      this.stats.totalAllocations += 1;
      return workspaceId;
    }
    if (!this.config.autoExpand) {
      throw new Error(
        `Workspace allocation failed: requested ${size} bytes, available ${this.maxAvailableSize()} bytes`,
      );
    }
    const id = this.createWorkspace(this.sizeToBucket(size));
    this.workspaces.get(id)!.acquire();
    this.stats.totalAllocations += 1;
    this.stats.totalExpansions += 1;
    return id;
  }

  /** `release`. */
  release(id: string): void {
    const workspace = this.workspaces.get(id);
    if (workspace === undefined) throw new Error(`Workspace not found: ${id}`);
    workspace.release();
    this.stats.totalReleases += 1;
    const bucket = this.sizeToBucket(workspace.size);
    let list = this.freeLists.get(bucket);
    if (list === undefined) this.freeLists.set(bucket, (list = []));
    list.push(id);
  }

  private findBestFit(size: number): string | undefined {
    let bestId: string | undefined;
    let bestSize = Infinity;
    for (const [id, workspace] of this.workspaces) {
      if (!workspace.inUse && workspace.size >= size && workspace.size < bestSize) {
        bestId = id;
        bestSize = workspace.size;
      }
    }
    if (bestId !== undefined) {
      const bucket = this.sizeToBucket(bestSize);
      const list = this.freeLists.get(bucket);
      if (list !== undefined)
        this.freeLists.set(
          bucket,
          list.filter((id) => id !== bestId),
        );
    }
    return bestId;
  }

  private findFirstFit(size: number): string | undefined {
    for (const [id, workspace] of this.workspaces) {
      if (!workspace.inUse && workspace.size >= size) {
        const bucket = this.sizeToBucket(workspace.size);
        const list = this.freeLists.get(bucket);
        if (list !== undefined)
          this.freeLists.set(
            bucket,
            list.filter((other) => other !== id),
          );
        return id;
      }
    }
    return undefined;
  }

  private findExactFit(size: number): string | undefined {
    return this.freeLists.get(this.sizeToBucket(size))?.shift();
  }

  private maxAvailableSize(): number {
    let max = 0;
    for (const workspace of this.workspaces.values()) if (!workspace.inUse) max = Math.max(max, workspace.size);
    return max;
  }

  /** `compute_fragmentation_ratio`. */
  computeFragmentationRatio(): number {
    let totalFree = 0;
    for (const workspace of this.workspaces.values()) if (!workspace.inUse) totalFree += workspace.size;
    return totalFree === 0 ? 0 : 1 - this.maxAvailableSize() / totalFree;
  }

  /** `defragment`: pairwise "merges" free workspaces and reports 0 bytes freed, as the Rust pool does. */
  defragment(): { freedBytes: number; mergedWorkspaces: number } {
    if (!this.config.enableDefragmentation) return { freedBytes: 0, mergedWorkspaces: 0 };
    if (this.computeFragmentationRatio() < this.config.defragThreshold) return { freedBytes: 0, mergedWorkspaces: 0 };
    const free = [...this.workspaces]
      .filter(([, workspace]) => !workspace.inUse)
      .map(([id, ws]) => [id, ws.size] as const);
    if (free.length < 2) {
      this.stats.totalDefragmentations += 1;
      return { freedBytes: 0, mergedWorkspaces: 0 };
    }
    free.sort((a, b) => a[1] - b[1]);
    const freedBytes = 0;
    let mergedWorkspaces = 0;
    for (let pair = 0; pair + 1 < free.length; pair += 2) {
      const [idA, sizeA] = free[pair]!;
      const [idB, sizeB] = free[pair + 1]!;
      const mergedSize = sizeA + sizeB;
      if (mergedSize > this.config.maxSize) continue;
      this.removeFromFreeList(idA, sizeA);
      this.removeFromFreeList(idB, sizeB);
      this.workspaces.delete(idA);
      this.workspaces.delete(idB);
      const mergedId = `ws_${this.nextId}`;
      this.nextId += 1;
      this.workspaces.set(mergedId, new BaselineWorkspace(mergedId, mergedSize));
      const bucket = this.sizeToBucket(mergedSize);
      let list = this.freeLists.get(bucket);
      if (list === undefined) this.freeLists.set(bucket, (list = []));
      list.push(mergedId);
      mergedWorkspaces += 1;
    }
    this.stats.totalDefragmentations += 1;
    return { freedBytes, mergedWorkspaces };
  }

  private removeFromFreeList(id: string, size: number): void {
    const bucket = this.sizeToBucket(size);
    const list = this.freeLists.get(bucket);
    if (list !== undefined)
      this.freeLists.set(
        bucket,
        list.filter((other) => other !== id),
      );
  }
}
