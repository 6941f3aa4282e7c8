/**
 * examples/names, the second main job, run tiny end to end: the word list decoded at the boundary,
 * the fixed split, the masked per-character loss against a loop written from the formula, then the
 * whole job (transformer, and the LSTM behind `model: 'lstm'`) for a few steps: the loss falls,
 * every file is written, the safetensors file reloads to the same logits, and the ONNX file runs in
 * onnxruntime-node with the same logits within 1e-4.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import * as T from '@backfold/tensor'
import { decodeSafetensors, loadParams } from '@backfold/nn'
import * as N from '../../examples/names/names.mjs'

// onnxruntime-node is a dev dependency of @backfold/nn, so it is required from there; only the
// members used here are typed.
interface OrtTensor {
  readonly data: ArrayLike<number>
  readonly dims: ReadonlyArray<number>
}
interface Ort {
  readonly Tensor: new (type: 'int32', data: Int32Array, dims: number[]) => OrtTensor
  readonly InferenceSession: {
    create(bytes: Uint8Array): Promise<{
      readonly inputNames: ReadonlyArray<string>
      readonly outputNames: ReadonlyArray<string>
      run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>
    }>
  }
}
const ort = createRequire(new URL('../../packages/nn/package.json', import.meta.url))(
  'onnxruntime-node',
) as Ort

type Either<L, R> =
  { readonly _tag: 'Left'; readonly left: L } | { readonly _tag: 'Right'; readonly right: R }
const right = <L, R>(e: Either<L, R>): R => {
  if (e._tag === 'Left') throw new Error(String(e.left))
  return e.right
}
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)

const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

describe('names: data', () => {
  it('decodes a word list at the boundary and refuses what is not one', () => {
    expect(right(N.decodeWordList(bytes('Ann\nann\ncafé\n')))).toEqual(['Ann', 'ann', 'café'])
    const left = (e: Either<string, unknown>): string => (e._tag === 'Left' ? e.left : 'Right')
    expect(left(N.decodeWordList(bytes('ab\n\ncd\n'), 'list'))).toMatch(/^list: line 2 \(""\) is empty/)
    expect(left(N.decodeWordList(bytes('ab\nc d\n'), 'list'))).toMatch(/^list: line 2 \("c d"\)/)
    expect(left(N.decodeWordList(bytes('ab\ncd'), 'list'))).toMatch(/no newline/)
    expect(left(N.decodeWordList(new Uint8Array([0x61, 0xff, 0x0a]), 'list'))).toMatch(/not valid UTF-8/)
  })

  it('keeps lower-case a-z words once, within the length limit', () => {
    const { words, dropped } = N.normaliseWords(
      ['Apple', 'apple', "apple's", 'café', 'abcdefghijklmnop', 'x-ray', 'zoo'],
      15,
    )
    expect(words).toEqual(['apple', 'zoo'])
    expect(dropped).toEqual({ notAlphabetic: 3, tooLong: 1, duplicates: 1 })
  })

  it('splits by a fixed hash: FNV-1a, independent of order, disjoint, about 10% validation', () => {
    // Published FNV-1a 32-bit test vectors.
    expect(N.fnv1a('')).toBe(0x811c9dc5)
    expect(N.fnv1a('a')).toBe(0xe40c292c)
    expect(N.fnv1a('foobar')).toBe(0xbf9cf968)
    const words = right(N.decodeWordList(readFileSync(N.WORD_LIST)))
    const { words: kept } = N.normaliseWords(words, 15)
    const split = N.splitWords(kept)
    const reversed = N.splitWords([...kept].reverse())
    expect(new Set(reversed.validation)).toEqual(new Set(split.validation))
    expect(split.train.length + split.validation.length).toBe(kept.length)
    const train = new Set(split.train)
    expect(split.validation.some((w) => train.has(w))).toBe(false)
    expect(split.validation.length / kept.length).toBeGreaterThan(0.09)
    expect(split.validation.length / kept.length).toBeLessThan(0.11)
    for (const w of split.validation) expect(N.fnv1a(w) % 100).toBeLessThan(10)
  })

  it('encodes a word as next-character examples with padded targets', () => {
    const { x, y } = N.encodeWords(['ab', 'z'], 4)
    expect(T.toNested(x)).toEqual([
      [0, 1, 2, 0],
      [0, 26, 0, 0],
    ])
    expect(T.toNested(y)).toEqual([
      [1, 2, 0, -1],
      [26, 0, -1, -1],
    ])
    expect(() => N.encodeWords(['abcd'], 4)).toThrow(/encodeWords: "abcd" has 4 letters; context 4 fits 3/)
    expect(N.decodeTokens([1, 2, 0, 5])).toBe('ab')
  })
})

describe('names: loss', () => {
  it('is the mean of −log softmax(logits)[target] over the positions with a target', () => {
    const [n, l, v] = [2, 3, 5]
    const logits = T.random.normal(T.random.key(3), [n, l, v])
    const targets = T.tensor(
      [
        [4, 0, -1],
        [2, -1, -1],
      ],
      'int32',
    )
    const z = logits.data
    let sum = 0
    let count = 0
    for (let i = 0; i < n; i++)
      for (let j = 0; j < l; j++) {
        const t = targets.data[i * l + j]!
        if (t < 0) continue
        const row = Array.from({ length: v }, (_, c) => z[(i * l + j) * v + c]!)
        const max = Math.max(...row)
        const logSum = max + Math.log(row.reduce((s, a) => s + Math.exp(a - max), 0))
        sum += logSum - row[t]!
        count++
      }
    expect(T.item(N.sequenceLoss(logits, targets))).toBeCloseTo(sum / count, 5)
    const nll = N.sequenceNll(logits, targets)
    expect(T.item(nll.count)).toBe(3)
    expect(T.item(nll.total)).toBeCloseTo(sum, 5)
  })
})

/** Logits of the model on tokens `x` in evaluation mode. */
const logitsOf = (model: N.JobResult['model'], params: unknown, state: unknown, x: T.Tensor): T.Tensor =>
  model.apply(params, state, x, { training: false })[0]

const endToEnd = async (model: 'transformer' | 'lstm'): Promise<void> => {
  const dir = mkdtempSync(join(tmpdir(), `names-${model}-`))
  dirs.push(dir)
  // Every 25th line of the real list (about 4,200 lines), so the run stays short.
  const wordList = join(dir, 'words.txt')
  const all = readFileSync(N.WORD_LIST, 'utf8').split('\n').slice(0, -1)
  writeFileSync(wordList, all.filter((_, i) => i % 25 === 0).join('\n') + '\n')
  const lines: string[] = []
  const job = right(
    await N.runJob({
      wordList,
      model,
      layers: 1,
      heads: 2,
      dims: 32,
      steps: 40,
      batchSize: 32,
      evalEvery: 20,
      evalWords: 256,
      samples: 8,
      learningRate: 1e-2,
      outDir: dir,
      log: (line) => lines.push(line),
    }),
  )
  // The loss falls: below the uniform guess (log 27), and from the first report to the last.
  const [first, last] = [job.history[0]!, job.history[job.history.length - 1]!]
  expect(job.history.map((r) => r.step)).toEqual([20, 40])
  expect(last.valLoss!).toBeLessThan(first.valLoss!)
  expect(last.loss).toBeLessThan(first.loss)
  expect(job.validationLoss).toBeLessThan(Math.log(N.VOCAB))
  expect(lines.some((line) => line.startsWith('final: validation '))).toBe(true)
  expect(job.samples).toHaveLength(8)
  for (const w of job.samples) expect(w).toMatch(/^[a-z]*$/)
  for (const file of Object.values(job.files)) expect(existsSync(file)).toBe(true)
  expect(readFileSync(job.files.chart, 'utf8')).toContain('>training step<')
  expect(JSON.parse(readFileSync(job.files.history, 'utf8'))).toHaveLength(2)

  // Validation words through the trained model, then through the reloaded weights and ONNX.
  const { x } = N.encodeWords(job.split.validation.slice(0, 6), 16)
  const expected = logitsOf(job.model, job.params, job.state, x)
  expect(expected.shape).toEqual([6, 16, N.VOCAB])

  const initial = job.model.init(T.random.key(99), [16])
  if (initial._tag === 'Left') throw new Error(initial.left.message)
  const file = readFileSync(job.files.params)
  const params = right(
    loadParams(initial.right.params, right(decodeSafetensors(file, { source: 'params' })).tensors, {
      source: 'params',
    }),
  )
  const again = logitsOf(job.model, params, initial.right.state, x)
  expect(Array.from(again.data)).toEqual(Array.from(expected.data))

  const session = await ort.InferenceSession.create(readFileSync(job.files.onnx))
  const out = await session.run({
    [session.inputNames[0]!]: new ort.Tensor('int32', Int32Array.from(x.data), [...x.shape]),
  })
  const onnx = out[session.outputNames[0]!]!
  expect([...onnx.dims]).toEqual([6, 16, N.VOCAB])
  let worst = 0
  for (let i = 0; i < expected.data.length; i++)
    worst = Math.max(worst, Math.abs(onnx.data[i]! - expected.data[i]!))
  expect(worst).toBeLessThan(1e-4)
}

describe('names: the job, tiny, end to end', () => {
  it('transformer: the loss falls, files are written, safetensors and ONNX give the same logits', async () => {
    await endToEnd('transformer')
  })
  it('--model lstm: the same job with the recurrent model', async () => {
    await endToEnd('lstm')
  })
})
