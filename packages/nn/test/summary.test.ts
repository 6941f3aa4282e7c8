import { describe, expect, it } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import * as T from '@backfold/tensor'
import { formatSummary, layers as L, summary, type Layer, type ModelSummary } from '../src/index'

const right = <A>(e: E.Either<{ message: string }, A>): A => {
  if (E.isLeft(e)) throw new Error(`expected Right, got Left: ${e.left.message}`)
  return e.right
}

/** [path, kind, outShape, params, state] per row, counts written out by hand in each test. */
const table = (s: ModelSummary): Array<[string, string, number[], number, number]> =>
  s.rows.map((r) => [r.path, r.kind, [...r.outShape], r.params, r.state])

describe('summary', () => {
  it('an MLP: dense weights in·out + out biases', () => {
    const mlp = L.sequential(L.dense(64), L.relu(), L.dense(10))
    const s = right(summary(mlp, [784]))
    expect(table(s)).toEqual([
      ['', 'sequential', [10], 50890, 0],
      ['0', 'dense', [64], 784 * 64 + 64, 0],
      ['1', 'relu', [64], 0, 0],
      ['2', 'dense', [10], 64 * 10 + 10, 0],
    ])
    expect(s.totalParams).toBe(784 * 64 + 64 + 64 * 10 + 10)
    expect(s.totalState).toBe(0)
    expect(s.rows.map((r) => r.inShape)).toEqual([[784], [784], [64], [64]])
  })

  it('a CNN with batch norm: conv kernels, batch-norm scale/shift as params and running statistics as state', () => {
    const cnn = L.sequential(
      L.conv2d(8, 3),
      L.batchNorm(),
      L.relu(),
      L.maxPool2d({ kernelSize: 2 }),
      L.flatten(),
      L.dense(10),
    )
    const s = right(summary(cnn, [1, 28, 28]))
    // conv: 8 kernels of 1×3×3 + 8 biases; 28 − 3 + 1 = 26. Pool halves 26 → 13. 8·13·13 = 1352.
    expect(table(s)).toEqual([
      ['', 'sequential', [10], 80 + 16 + 13530, 16],
      ['0', 'conv2d', [8, 26, 26], 8 * 9 + 8, 0],
      ['1', 'batchNorm', [8, 26, 26], 2 * 8, 2 * 8],
      ['2', 'relu', [8, 26, 26], 0, 0],
      ['3', 'maxPool2d', [8, 13, 13], 0, 0],
      ['4', 'flatten', [1352], 0, 0],
      ['5', 'dense', [10], 1352 * 10 + 10, 0],
    ])
    expect(s.totalParams).toBe(13626)
    expect(s.totalState).toBe(16)
  })

  it('nested sequential, residual and parallel: paths are the parameter names, the body shares its residual path', () => {
    const model = L.sequential({
      stem: L.dense(16),
      block: L.residual(L.sequential(L.dense(16), L.relu(), L.dense(16))),
      head: L.parallel(L.dense(4), L.sequential(L.dense(3), L.relu())),
    })
    const s = right(summary(model, [8]))
    expect(table(s)).toEqual([
      ['', 'sequential', [7], 144 + 544 + 119, 0],
      ['stem', 'dense', [16], 8 * 16 + 16, 0],
      ['block', 'residual', [16], 2 * (16 * 16 + 16), 0],
      ['block', 'sequential', [16], 2 * (16 * 16 + 16), 0],
      ['block.0', 'dense', [16], 16 * 16 + 16, 0],
      ['block.1', 'relu', [16], 0, 0],
      ['block.2', 'dense', [16], 16 * 16 + 16, 0],
      ['head', 'parallel', [7], 68 + 51, 0],
      ['head.0', 'dense', [4], 16 * 4 + 4, 0],
      ['head.1', 'sequential', [3], 16 * 3 + 3, 0],
      ['head.1.0', 'dense', [3], 16 * 3 + 3, 0],
      ['head.1.1', 'relu', [3], 0, 0],
    ])
    expect(s.rows.map((r) => r.depth)).toEqual([0, 1, 1, 2, 3, 3, 3, 1, 2, 2, 3, 3])
    // Both branches of the parallel see the parallel's input, not each other's output.
    expect(s.rows.filter((r) => r.path.startsWith('head.')).map((r) => r.inShape)).toEqual([
      [16],
      [16],
      [16],
      [3],
    ])
    // The paths are exactly the prefixes of the parameter names.
    const params = right(model.init(T.random.key(1), [8])).params
    const names = Object.keys(
      Object.fromEntries(
        (function* walk(node: unknown, path: string): Generator<[string, unknown]> {
          if (T.isTensor(node)) yield [path, node]
          else if (typeof node === 'object' && node !== null)
            for (const [k, c] of Object.entries(node)) yield* walk(c, path === '' ? k : `${path}.${k}`)
        })(params, ''),
      ),
    )
    for (const r of s.rows.filter((row) => row.kind === 'dense'))
      expect(names.filter((n) => n.startsWith(`${r.path}.`)).sort()).toEqual([
        `${r.path}.bias`,
        `${r.path}.weight`,
      ])
  })

  it('returns the LayerError of a badly wired model', () => {
    const bad = L.sequential(L.dense(4), L.conv2d(2, 3))
    const s = summary(bad, [8])
    expect(E.isLeft(s)).toBe(true)
    if (E.isLeft(s)) expect(s.left.path).toMatch(/^1 \(conv2d\)/)
  })

  it('shows a custom layer as one row, and says why a combinator holding one is not taken apart', () => {
    const scale: Layer<{ s: T.Tensor }, Record<never, never>> = {
      kind: 'scale',
      init: (_key, inShape) => E.right({ params: { s: T.ones([3]) }, state: {}, outShape: inShape }),
      apply: (_params, state, x) => [x, state],
    }
    const s = right(summary(L.sequential(L.dense(3), scale), [2]))
    expect(table(s)).toEqual([['', 'sequential', [3], 9 + 3, 0]])
    expect(s.rows[0]!.note).toMatch(/children not listed: one of them is a layer without a config/)
    expect(table(right(summary(scale, [3])))).toEqual([['', 'scale', [3], 3, 0]])
    expect(right(summary(scale, [3])).rows[0]!.note).toBeUndefined()
  })

  it('formats a table with one line per layer, indented by depth, and the totals', () => {
    const s = right(summary(L.sequential(L.dense(64), L.relu(), L.residual(L.dense(64))), [784]))
    expect(formatSummary(s)).toBe(
      [
        'layer       kind        output  params  state',
        '(model)     sequential  [64]    54,400      0',
        '  0         dense       [64]    50,240      0',
        '  1         relu        [64]         0      0',
        '  2         residual    [64]     4,160      0',
        '    (body)  dense       [64]     4,160      0',
        'total: 54,400 parameters, 0 state elements; input [784], output [64]',
      ].join('\n'),
    )
  })
})
