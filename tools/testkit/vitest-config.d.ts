import type { UserConfig } from 'vite';

/** The vitest settings every project shares; see vitest-config.js. */
export declare function memVitestConfig(root: string): UserConfig;
