// Shared timing helpers for the benchmark cases. Each case runs in its own process (bench/run.mjs)
// and prints exactly one JSON line on stdout.
import os from 'node:os'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

const require = createRequire(import.meta.url)

/** Median wall time (ms) of `fn` over `runs` timed runs after `warmup` untimed ones. */
export const medianMs = async (fn, { warmup = 3, runs = 7 } = {}) => {
  for (let i = 0; i < warmup; i++) await fn()
  const times = []
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now()
    await fn()
    times.push(performance.now() - t0)
  }
  times.sort((a, b) => a - b)
  return times[Math.floor(times.length / 2)]
}

export const machine = () => ({
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores: os.cpus().length,
  node: process.version,
})

export const emit = (result) => console.log(JSON.stringify(result))

/** Loads TensorFlow.js with the requested backend ('tfjs-cpu' or 'tfjs-wasm', one thread). */
export const loadTfjs = async (framework) => {
  // The umbrella package: tfjs registers gradients by import side effect, and tfjs-core alone
  // fails at run time with "gradient function not found".
  const tf = await import('@tensorflow/tfjs')
  if (framework === 'tfjs-wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm')
    const dist = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '/')
    wasm.setWasmPaths(dist.endsWith('/') ? dist : `${dist}/`)
    wasm.setThreadsCount?.(1)
    await tf.setBackend('wasm')
  } else await tf.setBackend('cpu')
  await tf.ready()
  return tf
}

export const versionOf = (name) => {
  try {
    return require(`${name}/package.json`).version
  } catch {
    return 'unknown'
  }
}

export const here = dirname(fileURLToPath(import.meta.url))
