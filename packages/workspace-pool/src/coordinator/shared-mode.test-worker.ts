/**
 * A client in a worker of its own, for the shared-mode conformance checks: attaches through the
 * descriptor it was started with, lends, writes and returns a workspace, closes, then answers.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { WorkspaceClient, type WorkspaceClientDescriptor } from '@mem/workspace-pool';

const client = WorkspaceClient.attach(workerData as WorkspaceClientDescriptor);
const workspace = await client.acquire('scratch', 64);
workspace.access((bytes) => bytes.fill(7));
workspace.release();
await client.flush();
await client.close();
parentPort!.postMessage(client.closed ? 'closed' : 'still open');
