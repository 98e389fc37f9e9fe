import { defaultServerConditions } from 'vite';

/**
 * The vitest settings every project shares: sibling packages resolve from source through the
 * `@mem/source` export condition (so tests need no build), and tests run in forked processes
 * because vitest's vm pools lack `Symbol.dispose`.
 *
 * @param {string} root the project's directory (`import.meta.dirname` of its vitest.config.ts)
 * @returns {import('vite').UserConfig}
 */
export function memVitestConfig(root) {
  return {
    root,
    ssr: { resolve: { conditions: ['@mem/source', ...defaultServerConditions] } },
    test: {
      include: ['src/**/*.spec.ts', 'test/**/*.spec.ts'],
      pool: 'forks',
      testTimeout: 60_000,
      hookTimeout: 60_000,
    },
  };
}
