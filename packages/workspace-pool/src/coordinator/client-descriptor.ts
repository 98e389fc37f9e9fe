/**
 * The descriptor of a {@link WorkspaceClient}: what another thread attaches a client with.
 *
 * This module is browser compatible.
 * @module
 */
import type { SharedDescriptor } from '@mem/types';

/** The `kind` of a {@link WorkspaceClientDescriptor}. @internal */
export const CLIENT_DESCRIPTOR_KIND = 'mem.workspace-pool.client';
/** The `version` of a {@link WorkspaceClientDescriptor}: the layout of the lease table and the protocol. @internal */
export const CLIENT_DESCRIPTOR_VERSION = 1;

/**
 * What a thread needs to become a client: made by `descriptor()` of the coordinator or of any
 * client, posted to the thread with `postMessage(d, descriptorTransferList(d))` (its port is
 * transferred), and turned into a client there by {@link WorkspaceClient.attach}. Each
 * descriptor carries a channel of its own to the coordinator's worker: it serves one attachment.
 */
export interface WorkspaceClientDescriptor extends SharedDescriptor<'mem.workspace-pool.client'> {
  /** The client's own channel to the coordinator's worker. */
  readonly port: InstanceType<typeof MessagePort>;
  /** The shared lease table (where each lease is, and whether it is pinned). */
  readonly leaseTable: SharedArrayBuffer;
  /** The names of the coordinator's pools. */
  readonly pools: readonly string[];
}

/**
 * A descriptor of a client's channel to the coordinator's worker.
 * @internal
 */
export function clientDescriptor(
  port: MessagePort,
  leaseTable: SharedArrayBuffer,
  pools: readonly string[],
): WorkspaceClientDescriptor {
  return { kind: CLIENT_DESCRIPTOR_KIND, version: CLIENT_DESCRIPTOR_VERSION, port, leaseTable, pools: [...pools] };
}
