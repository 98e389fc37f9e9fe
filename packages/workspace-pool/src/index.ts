/**
 * `@mem/workspace-pool`: Reusable scratch workspaces over real backing memory, with real defragmentation and a worker-owned coordinator.
 *
 * This module is browser compatible.
 * @module
 */
export {};
