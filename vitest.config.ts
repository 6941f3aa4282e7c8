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
      { find: /^@backfold\/ops\/onnx$/, replacement: src('./packages/ops/src/onnx.ts') },
      { find: /^@backfold\/ops$/, replacement: src('./packages/ops/src/index.ts') },
      { find: /^@backfold\/nn$/, replacement: src('./packages/nn/src/index.ts') },
    ],
  },
  test: {
    testTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: [
            '**/node_modules/**',
            '**/dist/**',
            'test/browser/**',
            'packages/*/test/ort/**',
            'test/ort/**',
          ],
          pool: 'threads',
        },
      },
      {
        // jit's ONNX Runtime executor. onnxruntime-node's native module registers in one thread per
        // process (a second worker thread loading it fails), and packages/nn/test/onnx.test.ts already
        // loads it in a thread of the 'unit' project: these files (and any other test that loads it, such
        // as the names job's ONNX check) each get a child process instead.
        extends: true,
        test: {
          name: 'ort',
          include: ['packages/*/test/ort/**/*.test.ts', 'test/ort/**/*.test.ts'],
          pool: 'forks',
        },
      },
    ],
  },
})
