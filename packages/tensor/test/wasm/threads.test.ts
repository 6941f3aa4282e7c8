import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import fc from 'fast-check'
import type { Conv2dSpec, MatmulSpec } from '../../src/backend'
import type { Tensor } from '../../src/tensor'
import { ValueError } from '../../src/errors'
import { wasmMatmulFloat32 } from '../../src/backends/wasm/matmul'
import {
  wasmConv2dBackwardFilterFloat32,
  wasmConv2dBackwardInputFloat32,
  wasmConv2dFloat32,
} from '../../src/backends/wasm/conv'
import {
  getThreads,
  MIN_PARALLEL_WORK,
  readyWorkers,
  setThreads,
  threadPoolStatus,
  threadStats,
} from '../../src/backends/wasm/threads'
import { withSharedMemoryImport } from '../../src/backends/wasm/runtime'
import { mulberry32, randomTensor } from './helpers'

// Threaded products must be BIT-identical to single-threaded ones: C is split by rows or columns
// and every element is summed in the same order by whichever thread owns it. Every case is run
// twice: once with setThreads(1) (phase 1, no pool), then with two threads once the worker is up
// (phase 2), and the results compared exactly. One case is also checked against a naive loop.

interface MatmulCase {
  readonly name: string
  readonly a: Tensor
  readonly b: Tensor
  readonly spec: MatmulSpec
}

const rand = mulberry32(7)

const matmulCase = (
  name: string,
  m: number,
  n: number,
  k: number,
  transposeA = false,
  transposeB = false,
  aBatch: number[] = [],
  bBatch: number[] = [],
  batchShape: number[] = [],
): MatmulCase => ({
  name,
  a: randomTensor(rand, 'float32', [...aBatch, ...(transposeA ? [k, m] : [m, k])]),
  b: randomTensor(rand, 'float32', [...bBatch, ...(transposeB ? [n, k] : [k, n])]),
  spec: { transposeA, transposeB, batchShape, m, n, k },
})

const matmulCases: MatmulCase[] = [
  matmulCase('exactly at the threshold, 128³', 128, 128, 128),
  matmulCase('odd sizes, row split', 131, 129, 127),
  matmulCase('odd sizes, transposed A', 133, 127, 129, true, false),
  matmulCase('odd sizes, transposed B', 127, 133, 131, false, true),
  matmulCase('odd sizes, both transposed', 129, 131, 133, true, true),
  matmulCase('few rows: column split', 7, 1001, 301),
  matmulCase('wider than one column block (NC = 4096)', 4, 4131, 131),
  matmulCase('deeper than one depth block (KC = 256)', 67, 61, 611),
  matmulCase('three equal depth blocks (784), transposed B', 130, 250, 784, false, true),
  matmulCase('uneven equal depth blocks (785), transposed A', 61, 133, 785, true, false),
  matmulCase('stacked batch against a shared B', 40, 96, 200, false, false, [3], [], [3]),
  matmulCase('batch of separate products', 100, 110, 190, false, true, [2], [2], [2]),
  matmulCase('broadcast batch, transposed A', 101, 97, 230, true, false, [2, 1], [3], [2, 3]),
  ...fc
    .sample(
      fc.record({
        m: fc.integer({ min: 1, max: 300 }),
        n: fc.integer({ min: 1, max: 300 }),
        t: fc.integer({ min: 0, max: 3 }),
      }),
      { numRuns: 8, seed: 11 },
    )
    .map(({ m, n, t }) =>
      matmulCase(`random ${m}×${n}`, m, n, Math.ceil(MIN_PARALLEL_WORK / (m * n)) + t, t % 2 === 1, t >= 2),
    ),
]

interface ConvCase {
  readonly name: string
  readonly x: Tensor
  readonly w: Tensor
  readonly dy: Tensor
  readonly spec: Conv2dSpec
}

const convCase = (
  name: string,
  [batch, channels, height, width]: readonly [number, number, number, number],
  [outChannels, kernelH, kernelW]: readonly [number, number, number],
  spec: Conv2dSpec,
): ConvCase => {
  const [strideH, strideW] = spec.stride
  const [top, bottom, left, right] = spec.padding
  const [dilationH, dilationW] = spec.dilation
  const outH = Math.floor((height + top + bottom - dilationH * (kernelH - 1) - 1) / strideH) + 1
  const outW = Math.floor((width + left + right - dilationW * (kernelW - 1) - 1) / strideW) + 1
  // Each of the three products per image must reach the threshold, or this case tests nothing.
  expect(outChannels * channels * kernelH * kernelW * outH * outW).toBeGreaterThanOrEqual(MIN_PARALLEL_WORK)
  return {
    name,
    x: randomTensor(rand, 'float32', [batch, channels, height, width]),
    w: randomTensor(rand, 'float32', [outChannels, channels, kernelH, kernelW]),
    dy: randomTensor(rand, 'float32', [batch, outChannels, outH, outW]),
    spec,
  }
}

const plain: Conv2dSpec = { stride: [1, 1], padding: [1, 1, 1, 1], dilation: [1, 1] }
const convCases: ConvCase[] = [
  convCase('3×3 same padding', [2, 16, 24, 24], [32, 3, 3], plain),
  convCase('strided, asymmetric padding', [2, 16, 41, 39], [40, 3, 3], {
    stride: [2, 2],
    padding: [1, 0, 2, 1],
    dilation: [1, 1],
  }),
  convCase('dilated 5×3', [1, 10, 30, 33], [36, 5, 3], {
    stride: [1, 2],
    padding: [2, 2, 1, 1],
    dilation: [2, 1],
  }),
  convCase('pointwise 1×1 (col is the image)', [2, 64, 20, 21], [80, 1, 1], {
    stride: [1, 1],
    padding: [0, 0, 0, 0],
    dilation: [1, 1],
  }),
  convCase('one input channel, many filters', [3, 1, 64, 64], [256, 3, 3], plain),
]

const runMatmul = (c: MatmulCase): Float32Array => wasmMatmulFloat32(c.a, c.b, c.spec).data as Float32Array
const runConv = (c: ConvCase): Float32Array[] => [
  wasmConv2dFloat32(c.x, c.w, c.spec).data as Float32Array,
  wasmConv2dBackwardInputFloat32(c.dy, c.w, c.x.shape, c.spec).data as Float32Array,
  wasmConv2dBackwardFilterFloat32(c.x, c.dy, c.w.shape, c.spec).data as Float32Array,
]

/** Index of the first element whose bits differ (or the shorter length), -1 when identical. */
const firstDifference = (actual: Float32Array, expected: Float32Array): number => {
  if (actual.length !== expected.length) return Math.min(actual.length, expected.length)
  const actualBits = new Int32Array(actual.buffer, actual.byteOffset, actual.length)
  const expectedBits = new Int32Array(expected.buffer, expected.byteOffset, expected.length)
  for (let i = 0; i < actualBits.length; i++) if (actualBits[i] !== expectedBits[i]) return i
  return -1
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

let singleMatmul: Float32Array[] = []
let singleConv: Float32Array[][] = []
const threadsBefore = getThreads()

beforeAll(async () => {
  setThreads(1)
  const jobsBefore = threadStats().parallelJobs
  singleMatmul = matmulCases.map(runMatmul)
  singleConv = convCases.map(runConv)
  // setThreads(1) disables the pool: nothing above ran on it.
  expect(threadStats().parallelJobs).toBe(jobsBefore)
  setThreads(2)
  // The first large call starts the worker; later calls only find it ready after it booted.
  runMatmul(matmulCases[0]!)
  for (let waited = 0; readyWorkers() < 1 && waited < 10_000; waited += 10) await sleep(10)
  expect(readyWorkers()).toBe(1)
})

afterAll(() => setThreads(threadsBefore))

describe('wasm backend on two threads', () => {
  it('multiplies bit-identically to one thread: threshold, odd sizes, splits, transposes, batches', () => {
    const { parallelJobs, workerParts } = threadStats()
    matmulCases.forEach((c, index) => {
      const threaded = runMatmul(c)
      expect({ name: c.name, difference: firstDifference(threaded, singleMatmul[index]!) }).toEqual({
        name: c.name,
        difference: -1,
      })
    })
    const after = threadStats()
    expect(after.parallelJobs - parallelJobs).toBeGreaterThanOrEqual(matmulCases.length)
    // Parts are claimed, so under load the main thread may run most of them, but not all of them all the time.
    expect(after.workerParts).toBeGreaterThan(workerParts)
  })

  it('reports the pool in threadPoolStatus: threads, one ready worker, jobs and worker parts', () => {
    const before = threadPoolStatus()
    expect(before).toMatchObject({ threads: 2, workers: 1, readyWorkers: 1 })
    for (let i = 0; i < 5; i++) runMatmul(matmulCases[0]!)
    const after = threadPoolStatus()
    expect(after.parallelJobs - before.parallelJobs).toBe(5)
    // Each of these products is two parts (one per thread); the worker may claim none of them under
    // load, or both if this thread is slow, but never more.
    const workerParts = after.workerParts - before.workerParts
    expect(workerParts).toBeGreaterThanOrEqual(0)
    expect(workerParts).toBeLessThanOrEqual(5 * 2)
  })

  it('still computes the product itself (naive float64 loop, transposed B, column split)', () => {
    const c = matmulCases[5]!
    const { m, n, k } = c.spec
    const threaded = runMatmul(c)
    const a = c.a.data
    const b = c.b.data
    for (let i = 0; i < m; i += 3) {
      for (let j = 0; j < n; j += 17) {
        let sum = 0
        let magnitude = 0
        for (let p = 0; p < k; p++) {
          sum += a[i * k + p]! * b[p * n + j]!
          magnitude += Math.abs(a[i * k + p]! * b[p * n + j]!)
        }
        expect(Math.abs(threaded[i * n + j]! - sum)).toBeLessThanOrEqual(1e-5 * magnitude + 1e-6)
      }
    }
  })

  it('runs conv2d and both of its gradients bit-identically to one thread', () => {
    const { parallelJobs } = threadStats()
    convCases.forEach((c, index) => {
      const threaded = runConv(c)
      const differences = threaded.map((data, gradient) =>
        firstDifference(data, singleConv[index]![gradient]!),
      )
      expect({ name: c.name, differences }).toEqual({ name: c.name, differences: [-1, -1, -1] })
    })
    // Three products per image per case, each above the threshold.
    const images = convCases.reduce((sum, c) => sum + c.x.shape[0]!, 0)
    expect(threadStats().parallelJobs - parallelJobs).toBe(3 * images)
  })

  it('keeps products below the threshold on the calling thread', () => {
    const { parallelJobs } = threadStats()
    const small = matmulCase('just below', 127, 128, 128)
    expect(127 * 128 * 128).toBeLessThan(MIN_PARALLEL_WORK)
    runMatmul(small)
    runMatmul(matmulCase('tiny', 3, 4, 5))
    expect(threadStats().parallelJobs).toBe(parallelJobs)
  })

  it('rejects a thread count that is not a positive integer', () => {
    expect(() => setThreads(0)).toThrow(ValueError)
    expect(() => setThreads(1.5)).toThrow(ValueError)
    expect(getThreads()).toBe(2)
  })
})

describe('withSharedMemoryImport', () => {
  it('turns the defined memory into an imported shared one that validates', () => {
    // A module of type, memory and export sections only: no functions, memory of 3 pages.
    const bytes = new Uint8Array([
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x05, 0x03, 0x01, 0x00, 0x03, 0x07,
      0x0a, 0x01, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00,
    ])
    expect(WebAssembly.validate(bytes)).toBe(true)
    const shared = withSharedMemoryImport(bytes, 200)
    const module = new WebAssembly.Module(shared)
    expect(WebAssembly.Module.imports(module)).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }])
    const memory = new WebAssembly.Memory({ initial: 3, maximum: 200, shared: true })
    const { exports } = new WebAssembly.Instance(module, { env: { memory } })
    expect(exports.memory).toBe(memory)
    // Fewer initial pages than the import demands is a link error: the initial size was carried over.
    expect(
      () =>
        new WebAssembly.Instance(module, {
          env: { memory: new WebAssembly.Memory({ initial: 2, maximum: 200, shared: true }) },
        }),
    ).toThrow()
  })
})
