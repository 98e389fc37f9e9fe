/**
 * A coordinator's pools live in shared memory: their configured backing is made shared.
 *
 * This module is browser compatible.
 * @module
 */
import type { WorkspaceConfig } from '../workspace-config.js';

/**
 * The configuration with its backing made shared: `array-buffer` becomes `shared-array-buffer`,
 * `wasm-memory` becomes `shared-wasm-memory`.
 * @internal
 */
export function sharedConfig(config: WorkspaceConfig): WorkspaceConfig {
  if (config.backing === 'array-buffer') return config.with({ backing: 'shared-array-buffer' });
  if (config.backing === 'wasm-memory') return config.with({ backing: 'shared-wasm-memory' });
  return config;
}
