/**
 * The coordinator and its clients speak the shared-mode contract of `@mem/types`: the
 * conformance checks run with the coordinator as the creating attachment and `WorkspaceClient`
 * as every other one; a real worker attaches, and a dropped client is collected.
 */
import { descriptorTransferList, type SharedDescriptor } from '@mem/types';
import { sharedModeConformance } from '@mem/types/conformance';
import { runWorker, startWorker } from '@mem/testkit';
import { collectGarbage } from '@mem/testkit/collect-garbage';
import { describe, expect, it } from 'vitest';
import { coordinatorWorkerSource } from './coordinator.test-helper.js';
import type { WorkspaceClientDescriptor } from './client-descriptor.js';
import { WorkspaceClient } from './workspace-client.js';
import { WorkspaceCoordinator } from './workspace-coordinator.js';

const clientSource = new URL('./shared-mode.test-worker.ts', import.meta.url);

describe('WorkspaceCoordinator and WorkspaceClient: shared-mode conformance', () => {
  const checks = sharedModeConformance<WorkspaceCoordinator, WorkspaceClient>({
    kind: 'mem.workspace-pool.client',
    version: 1,
    create: () =>
      WorkspaceCoordinator.createShared({
        worker: () => startWorker(coordinatorWorkerSource),
        pools: { scratch: { initialSize: 64 * 1024 } },
      }),
    attach: (descriptor) => WorkspaceClient.attach(descriptor as WorkspaceClientDescriptor),
    use: async (client) => {
      const workspace = await client.acquire('scratch', 64);
      workspace.access((bytes) => bytes.fill(1));
      workspace.release();
      await client.flush();
    },
    closingCreatorEndsOthers: true,
    inWorker: async (descriptor: SharedDescriptor) => {
      const answer = await runWorker(clientSource, descriptor, {
        transferList: descriptorTransferList(descriptor) as never, // the web's MessagePort type, Node's port
      });
      expect(answer).toBe('closed');
    },
    collectGarbage: async () => collectGarbage(),
  });
  for (const check of checks) it(check.name, check.run);
});
