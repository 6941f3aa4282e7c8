import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as T from '@backfold/tensor'
import type { Pool2dOptions, Shape } from '@backfold/tensor'
import type { Either } from 'fp-ts/lib/Either.js'
import type { Initialized, JsonValue, LayerConfig, LayerError, NoParams, NoState } from '../layer'
import * as F from '../config/fields'
import type { OnnxDim, OnnxExport } from '../onnx/context'
import { intAttribute, intsAttribute } from '../onnx/graph'
import { outSpatial, probe, windowAttributes } from '../onnx/window'
import { badShape, fail, tryShape, type AnyLayer } from './common'
import { leafKind, type LayerKind } from './define'

/**
 * Shape inference shared by the 2-D pooling layers: `[C, H, W]` → `[C, H', W']` with the geometry
 * of `@backfold/tensor`'s pooling kernels.
 */
export const initPool2d = (
  kind: string,
  inShape: Shape,
  opts: Pool2dOptions,
): Either<LayerError, Initialized<NoParams, NoState>> => {
  const problem = badShape(inShape)
  if (problem !== undefined) return fail(kind, problem)
  if (inShape.length !== 3)
    return fail(
      kind,
      `expected a per-example input [channels, height, width] (rank 3), got ${T.fmtShape(inShape)} (rank ${inShape.length})`,
    )
  const xShape = [1, ...inShape]
  return pipe(
    tryShape(kind, `input ${T.fmtShape(inShape)}`, () =>
      T.pool2dOutputShape(xShape, T.pool2dSpec(kind, xShape, opts)),
    ),
    E.map((outShape) => ({ params: {}, state: {}, outShape: outShape.slice(1) })),
  )
}

/** The config of a `maxPool2d` or `avgPool2d` layer. @since 0.2.0 */
export interface Pool2dConfig<K extends 'maxPool2d' | 'avgPool2d'> extends LayerConfig {
  readonly kind: K
  readonly kernelSize: number | readonly [number, number]
  readonly stride?: number | readonly [number, number]
  readonly padding?: JsonValue
}

/** The kind of a 2-D pooling layer: config fields and ONNX export (MaxPool, AveragePool). */
export const pool2dKind = <K extends 'maxPool2d' | 'avgPool2d'>(
  kind: K,
  make: (opts: Pool2dOptions) => AnyLayer,
): LayerKind<K> & { readonly onnx: OnnxExport } =>
  leafKind({
    kind,
    required: { kernelSize: F.positiveOrPair },
    optional: { stride: F.positiveOrPair, padding: F.padding },
    // Why the cast: the fields passed the codecs above, which are Pool2dOptions' types.
    build: (f) => make(f as unknown as Pool2dOptions),
    onnx: {
      emit: (ctx) => {
        const x = ctx.rank(3, '[channels, height, width]')
        if (E.isLeft(x)) return x
        // Why the cast: rank just checked the rank is 3.
        const [channels, height, width] = x.right.shape as readonly [OnnxDim, OnnxDim, OnnxDim]
        // Why the cast: the fields are JSON here (absent ones undefined); pool2dSpec validates each and throws a ValueError naming it.
        const opts = {
          kernelSize: ctx.config['kernelSize'],
          stride: ctx.config['stride'],
          padding: ctx.config['padding'],
        } as Pool2dOptions
        const probeShape = [1, 1, probe(height), probe(width)]
        return E.map((spec: T.Pool2dSpec) => {
          const attributes = [
            intsAttribute('kernel_shape', spec.kernel),
            ...windowAttributes([height, width], opts.padding, spec),
          ]
          const name =
            kind === 'maxPool2d'
              ? ctx.node('MaxPool', [x.right.name], attributes)
              : // backfold divides every window by its full size, padding included.
                ctx.node('AveragePool', [x.right.name], [...attributes, intAttribute('count_include_pad', 1)])
          const computed = T.pool2dOutputShape(probeShape, spec).slice(2)
          return { name, shape: [channels, ...outSpatial([height, width], computed)], elem: 'float' as const }
        })(ctx.geometry(() => T.pool2dSpec(kind, probeShape, opts)))
      },
    },
  })
