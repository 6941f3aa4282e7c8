import { defineConfig } from 'vitest/config'
import { fileURLToPath } from 'node:url'

const src = (p: string): string => fileURLToPath(new URL(p, import.meta.url))

// Tests run against the TypeScript sources; CI separately proves the built
// packages load in plain Node (scripts/smoke.mjs).
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@backfold\/nn\/node$/, replacement: src('./packages/nn/src/node/index.ts') },
      { find: /^@backfold\/tensor$/, replacement: src('./packages/tensor/src/index.ts') },
      { find: /^@backfold\/ops$/, replacement: src('./packages/ops/src/index.ts') },
      { find: /^@backfold\/nn$/, replacement: src('./packages/nn/src/index.ts') },
    ],
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**', 'test/browser/**'],
    testTimeout: 60_000,
    pool: 'threads',
  },
})
