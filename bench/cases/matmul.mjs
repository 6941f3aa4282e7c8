// matmul n×n·n×n float32, GFLOP/s, for one framework: node bench/cases/matmul.mjs <framework>
import { emit, loadTfjs, medianMs } from './common.mjs'

const framework = process.argv[2] ?? 'backfold'
const sizes = [128, 256, 512, 1024]
const results = []
const runsFor = (n) => (n >= 1024 ? 3 : n >= 512 ? 5 : 9)

if (framework === 'backfold') {
  const T = await import('@backfold/tensor')
  for (const n of sizes) {
    const a = T.random.normal(T.random.key(1), [n, n])
    const b = T.random.normal(T.random.key(2), [n, n])
    const ms = await medianMs(() => T.matmul(a, b), { warmup: 2, runs: runsFor(n) })
    results.push({ n, ms, gflops: (2 * n ** 3) / (ms * 1e6) })
  }
} else if (framework.startsWith('tfjs')) {
  const tf = await loadTfjs(framework)
  for (const n of sizes) {
    const a = tf.randomNormal([n, n])
    const b = tf.randomNormal([n, n])
    const ms = await medianMs(
      async () => {
        const c = tf.matMul(a, b)
        await c.data()
        c.dispose()
      },
      { warmup: 2, runs: runsFor(n) },
    )
    results.push({ n, ms, gflops: (2 * n ** 3) / (ms * 1e6) })
  }
}
emit({ bench: 'matmul', framework, results })
