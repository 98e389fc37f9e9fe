import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/out-tsc/**', 'docs/api/**', '.nx/**', '.tmp/**', '**/node_modules/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        console: 'readonly',
        process: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        queueMicrotask: 'readonly',
        performance: 'readonly',
        structuredClone: 'readonly',
        SharedArrayBuffer: 'readonly',
        Atomics: 'readonly',
        WebAssembly: 'readonly',
        FinalizationRegistry: 'readonly',
        WeakRef: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        globalThis: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['../../*/src/*', '../../../packages/*'], message: 'Import a package by its name, not by path.' },
          ],
        },
      ],
    },
  },
  {
    // Runtime code of a package runs in browsers too: Node built-ins only in Node-only entry points
    // (files named *.node.ts or under src/node/), tests, their helpers and workers of tests.
    files: ['packages/*/src/**/*.ts'],
    ignores: ['**/*.spec.ts', '**/*.test-worker.ts', '**/*.test-helper.ts', '**/*.node.ts', '**/src/node/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*'],
              message: 'Package cores run in browsers: keep node: imports behind a Node-only export.',
            },
            { group: ['@mem/*', '!@mem/types'], message: 'A package depends on @mem/types and nothing else of ours.' },
          ],
        },
      ],
    },
  },
  {
    // The KV tier packages run in Node.js only and implement the tier interface of @mem/paged-kv
    // (its peer dependency): a third-party client lives in a package of its own.
    files: ['packages/kv-connector-*/src/**/*.ts'],
    ignores: ['**/*.spec.ts', '**/*.test-worker.ts', '**/*.test-helper.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@mem/*', '!@mem/types', '!@mem/paged-kv'],
              message: 'A KV tier package depends on @mem/types and @mem/paged-kv only.',
            },
          ],
        },
      ],
    },
  },
);
