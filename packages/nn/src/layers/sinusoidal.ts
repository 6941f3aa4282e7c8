import * as E from 'fp-ts/lib/Either.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { DType, Tensor } from '@backfold/tensor'
import type { Layer, NoParams } from '../layer'
import * as F from '../config/fields'
import { badShape, checkLayerOptions, configOf, fail } from './common'
import { leafKind } from './define'
import {
  decodingStateRefusal,
  checkCapacity,
  decodingCapacity,
  positionTensor,
  readPosition,
  type PositionState,
} from './decoding'

/** Options of `sinusoidal`. @since 0.2.0 */
export interface SinusoidalOptions {
  /** The wavelength base (10000 in Vaswani et al., the default). */
  readonly base?: number
}

const OPTIONS = O.optionSchema({ base: O.option.number })

// The sinusoidal table [l, dim] of Vaswani et al. (2017) for positions offset..offset+l−1:
// PE[p, 2i] = sin(p / base^(2i/dim)), PE[p, 2i+1] = cos(p / base^(2i/dim)). A constant, built with kernels.
const sinusoidalTable = (l: number, dim: number, base: number, dtype: DType, offset = 0): Tensor => {
  const data = T.allocate(dtype, l * dim)
  for (let p = 0; p < l; p++)
    for (let i = 0; 2 * i < dim; i++) {
      const angle = (p + offset) / Math.pow(base, (2 * i) / dim)
      data[p * dim + 2 * i] = Math.sin(angle)
      data[p * dim + 2 * i + 1] = Math.cos(angle)
    }
  return T.unsafeTensor(dtype, [l, dim], data)
}

/**
 * Fixed sinusoidal positions (Vaswani et al. 2017, no parameters): `[N, L, dim] → [N, L, dim]`,
 * `y[n, p] = x[n, p] + PE[p]` with `PE[p, 2i] = sin(p / base^(2i/dim))`, `PE[p, 2i+1] = cos(p / base^(2i/dim))`; `dim` must be
 * even. Any sequence length. In decoding mode (`ApplyContext.cache`) x holds the positions after
 * those seen so far, which its state counts (`PositionState`).
 * @example
 * import { layers } from '@backfold/nn'
 * const model = layers.sequential(layers.embedding(100, 32), layers.sinusoidal())
 * @throws ValueError for an unknown option or an option of the wrong type.
 * @since 0.2.0
 */
export const sinusoidal = (opts: SinusoidalOptions = {}): Layer<NoParams, PositionState> => {
  const kind = 'sinusoidal'
  checkLayerOptions(kind, opts, OPTIONS)
  const base = opts.base ?? 10000
  const problem =
    base > 0 && Number.isFinite(base) ? undefined : `base must be a finite number > 0, got ${base}`
  const dimProblem = (shape: ReadonlyArray<number>): string | undefined =>
    shape.length !== 2
      ? `expected a per-example input of rank 2 ([seq, dim]), got ${T.fmtShape(shape)}`
      : shape[1]! % 2 !== 0
        ? `dim must be even (sin and cos pairs), got input ${T.fmtShape(shape)}`
        : undefined
  return {
    kind,
    config: configOf(kind, { base }),
    init: (_key, inShape) => {
      const message = problem ?? badShape(inShape) ?? dimProblem(inShape)
      if (message !== undefined) return fail(kind, message)
      return E.right({ params: {}, state: {}, outShape: inShape })
    },
    apply: (_params, state, x, ctx) => {
      const message =
        problem ??
        (x.shape.length === 3
          ? dimProblem(x.shape.slice(1))
          : `expected a batch of rank 3 ([batch, seq, dim]), got ${T.fmtShape(x.shape)}`)
      if (message !== undefined) throw new T.ShapeError(kind, message)
      const dtype = T.isFloat(x.dtype) ? x.dtype : 'float32'
      const seq = x.shape[1]!
      const capacity = decodingCapacity(kind, ctx, state.position !== undefined)
      const start = capacity === undefined ? 0 : readPosition(kind, state.position)
      if (capacity !== undefined) checkCapacity(kind, start, seq, capacity)
      const y = O.add(x, sinusoidalTable(seq, x.shape[2]!, base, dtype, start))
      return [y, capacity === undefined ? state : { position: positionTensor(start + seq) }]
    },
  }
}

/** The `sinusoidal` kind: ONNX export as Add of the table (the sequence length must be known). @since 0.2.0 */
export const sinusoidalKind = /* @__PURE__ */ leafKind({
  kind: 'sinusoidal',
  required: {},
  optional: { base: F.positive },
  build: (f) => sinusoidal(f['base'] === undefined ? {} : { base: f['base'] as number }),
  allocation: (_c, inShape) => ({ size: 0, outShape: inShape }),
  onnx: {
    emit: (ctx) => {
      const decoding = decodingStateRefusal(ctx.state, 'position')
      if (decoding !== undefined) return ctx.fail(decoding)
      const x = ctx.rank(2, '[seq, dim]')
      if (E.isLeft(x)) return x
      const [seq, dim] = x.right.shape
      if (typeof seq !== 'number' || typeof dim !== 'number')
        return ctx.fail(
          `the sinusoidal table needs a known sequence length and width, got ${JSON.stringify(x.right.shape)}`,
        )
      if (dim % 2 !== 0) return ctx.fail(`dim must be even, got ${dim}`)
      const base = ctx.number('base', 10000)
      if (E.isLeft(base)) return base
      const table = ctx.initializer('table', sinusoidalTable(seq, dim, base.right, 'float32'))
      return E.right({ ...x.right, name: ctx.node('Add', [x.right.name, table]) })
    },
  },
})
