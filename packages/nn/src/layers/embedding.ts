import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { DType, Tensor } from '@backfold/tensor'
import type { Layer, NoState } from '../layer'
import type { Initializer } from '../init/initializer'
import { computeFans } from '../init/initializer'
import { normal } from '../init/random'
import {
  badShape,
  checkLayerOptions,
  configOf,
  fail,
  notPositiveInteger,
  paramDType,
  runInit,
} from './common'
import * as F from '../config/fields'
import { formatDims } from '../onnx/context'
import { intAttribute } from '../onnx/graph'
import { leafKind } from './define'

/** Parameters of `embedding` (PyTorch's `nn.Embedding` name and layout). @since 0.1.0 */
export interface EmbeddingParams {
  /** `[numEmbeddings, dim]`: row `i` is the vector of index `i`. */
  readonly weight: Tensor
}

/** Options of `embedding`. @since 0.1.0 */
export interface EmbeddingOptions {
  /** Default N(0, 1), PyTorch's `nn.Embedding` default. */
  readonly weightInit?: Initializer
  /** Parameter dtype, default float32. */
  readonly dtype?: DType
}

const standardNormal = normal({ std: 1 })

const EMBEDDING_OPTIONS = O.optionSchema({ weightInit: O.option.function, dtype: O.option.anything })

/**
 * A lookup table (PyTorch's `nn.Embedding`): int32 indices of per-example shape `[...]` →
 * vectors `[..., dim]` (a batch `[N, ...]` → `[N, ..., dim]`). Indices must lie in
 * `[0, numEmbeddings)`; `apply` throws a `ValueError` naming the first bad index and its position.
 * The gradient w.r.t. `weight` adds up the cotangents of repeated indices.
 * @example
 * const layer = layers.embedding(1000, 16)
 * layer.init(T.random.key(0), [12]) // outShape [12, 16]; tokens: int32 [N, 12] → [N, 12, 16]
 * @since 0.1.0
 */
export const embedding = (
  numEmbeddings: number,
  dim: number,
  opts: EmbeddingOptions = {},
): Layer<EmbeddingParams, NoState> => {
  const kind = 'embedding'
  checkLayerOptions(kind, opts, EMBEDDING_OPTIONS)
  const weightInit = opts.weightInit ?? standardNormal
  return {
    kind,
    config: configOf(kind, { numEmbeddings, dim, dtype: opts.dtype }),
    init: (key, inShape) => {
      const problem =
        badShape(inShape) ??
        notPositiveInteger('numEmbeddings', numEmbeddings) ??
        notPositiveInteger('dim', dim)
      if (problem !== undefined) return fail(kind, problem)
      const weightShape = [numEmbeddings, dim]
      return pipe(
        paramDType(kind, opts.dtype),
        E.chain((dtype) =>
          runInit(kind, 'weightInit', weightInit, key, weightShape, dtype, computeFans(weightShape)),
        ),
        E.map((weight) => ({ params: { weight }, state: {}, outShape: [...inShape, dim] })),
      )
    },
    apply: (params, state, x) => {
      if (x.dtype !== 'int32')
        throw new T.DTypeError(kind, `indices must be int32, got ${x.dtype} ${T.fmtShape(x.shape)}`)
      // gather checks every index when it runs (on the concrete values, also under grad or vmap,
      // where this layer cannot read them); its error is given this layer's name and table size.
      try {
        return [O.gather(params.weight, O.stopGradient(x)), state]
      } catch (error) {
        if (error instanceof T.ValueError && /out of range/.test(error.message))
          throw new T.ValueError(
            kind,
            `${error.message.replace(/^[^:]*: /, '')} (numEmbeddings ${numEmbeddings}, input ${T.fmtShape(x.shape)})`,
          )
        throw error
      }
    },
  }
}

/** The `embedding` kind: ONNX export as Gather; an embedding first makes the model input int32. @since 0.2.0 */
export const embeddingKind = /* @__PURE__ */ leafKind({
  kind: 'embedding',
  required: { numEmbeddings: F.positiveInt, dim: F.positiveInt },
  optional: { dtype: F.dtype },
  build: (f) =>
    embedding(
      f['numEmbeddings'] as number,
      f['dim'] as number,
      f['dtype'] === undefined ? {} : { dtype: f['dtype'] as DType },
    ),
  allocation: (c, inShape) => {
    const num = (key: string): number => (typeof c[key] === 'number' ? (c[key] as number) : 0)
    return { size: num('numEmbeddings') * num('dim'), outShape: [...inShape, num('dim')] }
  },
  onnx: {
    emit: (ctx) => {
      const x = ctx.input
      if (x.elem !== 'int32')
        return ctx.fail(
          `takes int32 indices but receives float values ${formatDims(x.shape)}; export with inputDType: 'int32'`,
        )
      const count = ctx.config['numEmbeddings']
      const dim = ctx.config['dim']
      const weight = ctx.param('weight', [
        typeof count === 'number' ? count : null,
        typeof dim === 'number' ? dim : null,
      ])
      if (E.isLeft(weight)) return weight
      const name = ctx.node(
        'Gather',
        [ctx.initializer('weight', weight.right), x.name],
        [intAttribute('axis', 0)],
      )
      return E.right({ name, shape: [...x.shape, weight.right.shape[1]!], elem: 'float' })
    },
    inputElem: () => 'int32',
  },
})
