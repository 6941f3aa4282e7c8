import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { DType, Tensor } from '@backfold/tensor'
import type { Layer } from '../layer'
import type { Initializer } from '../init/initializer'
import { computeFans } from '../init/initializer'
import { normal } from '../init/random'
import * as F from '../config/fields'
import { DataType } from '@backfold/ops/onnx'
import { intAttribute } from '../onnx/graph'
import {
  badShape,
  checkLayerOptions,
  configOf,
  fail,
  notPositiveInteger,
  paramDType,
  runInit,
} from './common'
import { leafKind } from './define'
import {
  decodingStateRefusal,
  checkCapacity,
  decodingCapacity,
  positionTensor,
  readPosition,
  type PositionState,
} from './decoding'

/** Parameters of `positionalEmbedding`: one learned vector per position. @since 0.2.0 */
export interface PositionalEmbeddingParams {
  /** `[maxLen, dim]`: row p is added to the input at position p (GPT-2's `wpe.weight`). */
  readonly weight: Tensor
}

/** Options of `positionalEmbedding`. @since 0.2.0 */
export interface PositionalEmbeddingOptions {
  /** The longest sequence the layer takes (the table's rows). */
  readonly maxLen: number
  /** Default N(0, 0.02²), GPT-2's initialisation. */
  readonly weightInit?: Initializer
  /** Parameter dtype, default float32. */
  readonly dtype?: DType
}

const OPTIONS = O.optionSchema({
  maxLen: O.option.required(O.option.integer),
  weightInit: O.option.function,
  dtype: O.option.anything,
})

const gpt2Normal = normal({ std: 0.02 })

/**
 * Learned absolute positions (GPT-2's `wpe`): `[N, L, dim] → [N, L, dim]`, `y[n, p] = x[n, p] +
 * weight[p]` for a table `weight` of shape `[maxLen, dim]`; sequences up to `maxLen` long. Put it
 * after a token `embedding`. In decoding mode (`ApplyContext.cache`) x holds the positions after
 * those seen so far, which its state counts (`PositionState`), and gets their rows.
 * @example
 * import * as T from '@backfold/tensor'
 * import { layers } from '@backfold/nn'
 * const model = layers.sequential(layers.embedding(100, 32), layers.positionalEmbedding({ maxLen: 16 }))
 * model.init(T.random.key(0), [16]) // params 1.weight [16, 32]
 * @throws ValueError for an unknown option or an option of the wrong type.
 * @since 0.2.0
 */
export const positionalEmbedding = (
  opts: PositionalEmbeddingOptions,
): Layer<PositionalEmbeddingParams, PositionState> => {
  const kind = 'positionalEmbedding'
  checkLayerOptions(kind, opts, OPTIONS)
  const { maxLen } = opts
  const weightInit = opts.weightInit ?? gpt2Normal
  const problem = notPositiveInteger('maxLen', maxLen)
  return {
    kind,
    config: configOf(kind, { maxLen, dtype: opts.dtype }),
    init: (key, inShape) => {
      const shapeProblem = problem ?? badShape(inShape)
      if (shapeProblem !== undefined) return fail(kind, shapeProblem)
      if (inShape.length !== 2)
        return fail(kind, `expected a per-example input of rank 2 ([seq, dim]), got ${T.fmtShape(inShape)}`)
      const [seq, dim] = inShape as [number, number]
      if (seq > maxLen)
        return fail(
          kind,
          `the sequence length ${seq} of input ${T.fmtShape(inShape)} exceeds maxLen ${maxLen}`,
        )
      const shape = [maxLen, dim]
      return pipe(
        paramDType(kind, opts.dtype),
        E.chain((dtype) => runInit(kind, 'weightInit', weightInit, key, shape, dtype, computeFans(shape))),
        E.map((weight) => ({ params: { weight }, state: {}, outShape: inShape })),
      )
    },
    apply: (params, state, x, ctx) => {
      if (problem !== undefined) throw new T.ValueError(kind, problem)
      if (x.shape.length !== 3)
        throw new T.ShapeError(
          kind,
          `expected a batch of rank 3 ([batch, seq, dim]), got ${T.fmtShape(x.shape)}`,
        )
      const seq = x.shape[1]!
      const capacity = decodingCapacity(kind, ctx, state.position !== undefined)
      const start = capacity === undefined ? 0 : readPosition(kind, state.position)
      if (capacity !== undefined) checkCapacity(kind, start, seq, capacity)
      if (start + seq > params.weight.shape[0]!)
        throw new T.ShapeError(
          kind,
          start === 0
            ? `the sequence length ${seq} of input ${T.fmtShape(x.shape)} exceeds maxLen ${params.weight.shape[0]!}`
            : `positions ${start}..${start + seq - 1} exceed maxLen ${params.weight.shape[0]!} (decoding)`,
        )
      const rows = O.slice(params.weight, [{ start, stop: start + seq }])
      return [O.add(x, rows), capacity === undefined ? state : { position: positionTensor(start + seq) }]
    },
  }
}

/**
 * The `positionalEmbedding` kind. ONNX: the rows `0..L−1` of the table are gathered with indices
 * from `Range(0, Shape(x)[1])` (opset >= 11), so the sequence length may be symbolic, then added.
 * @since 0.2.0
 */
export const positionalEmbeddingKind = /* @__PURE__ */ leafKind({
  kind: 'positionalEmbedding',
  required: { maxLen: F.positiveInt },
  optional: { dtype: F.dtype },
  build: (f) =>
    positionalEmbedding({
      maxLen: f['maxLen'] as number,
      ...(f['dtype'] === undefined ? {} : { dtype: f['dtype'] as DType }),
    }),
  allocation: (c, inShape) =>
    inShape.length === 2 && typeof c['maxLen'] === 'number'
      ? { size: c['maxLen'] * inShape[1]!, outShape: inShape }
      : undefined,
  onnx: {
    emit: (ctx) => {
      const decoding = decodingStateRefusal(ctx.state, 'position')
      if (decoding !== undefined) return ctx.fail(decoding)
      const x = ctx.rank(2, '[seq, dim]')
      if (E.isLeft(x)) return x
      if (ctx.opset < 11)
        return ctx.fail(`the position indices need Range (opset >= 11), got opset ${ctx.opset}`)
      const [seq, dim] = x.right.shape
      const maxLen = ctx.config['maxLen']
      const weight = ctx.param('weight', [
        typeof maxLen === 'number' ? maxLen : null,
        typeof dim === 'number' ? dim : null,
      ])
      if (E.isLeft(weight)) return weight
      if (typeof seq === 'number' && seq > weight.right.shape[0]!)
        return ctx.fail(`the sequence length ${seq} exceeds maxLen ${weight.right.shape[0]!}`)
      // The graph builder writes float initializers only, so the int64 scalars are cast from them.
      const int64 = (value: number): string =>
        ctx.node('Cast', [ctx.constant(value)], [intAttribute('to', DataType.INT64)])
      const length = ctx.node(
        'Gather',
        [ctx.node('Shape', [x.right.name]), int64(1)],
        [intAttribute('axis', 0)],
      )
      const positions = ctx.node('Range', [int64(0), length, int64(1)])
      const rows = ctx.node(
        'Gather',
        [ctx.initializer('weight', weight.right), positions],
        [intAttribute('axis', 0)],
      )
      return E.right({ ...x.right, name: ctx.node('Add', [x.right.name, rows]) })
    },
  },
})
