import * as E from 'fp-ts/lib/Either.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Layer, NoParams, NoState } from '../layer'
import { badShape, fail } from './common'
import { leafKind } from './define'
import { intAttribute } from '../onnx/graph'

/**
 * Mean over the spatial axes of NCHW batches: per-example `[C, H, W]` → `[C]` (as Keras's
 * `GlobalAveragePooling2D`; PyTorch's `AdaptiveAvgPool2d(1)` followed by `flatten()`), ready for `dense`.
 * @example
 * layers.globalAvgPool2d().init(T.random.key(0), [64, 7, 7]) // outShape [64]
 * @since 0.1.0
 */
export const globalAvgPool2d = (): Layer<NoParams, NoState> => ({
  kind: 'globalAvgPool2d',
  config: { kind: 'globalAvgPool2d' },
  init: (_key, inShape) => {
    const problem = badShape(inShape)
    if (problem !== undefined) return fail('globalAvgPool2d', problem)
    if (inShape.length !== 3)
      return fail(
        'globalAvgPool2d',
        `expected a per-example input [channels, height, width] (rank 3), got ${T.fmtShape(inShape)} (rank ${inShape.length})`,
      )
    if (inShape[1] === 0 || inShape[2] === 0)
      return fail(
        'globalAvgPool2d',
        `input ${T.fmtShape(inShape)} has an empty spatial axis; there is nothing to average`,
      )
    return E.right({ params: {}, state: {}, outShape: [inShape[0]!] })
  },
  apply: (_params, state, x) => [O.mean(x, { axis: [2, 3] }), state],
})

/**
 * The `globalAvgPool2d` kind: ONNX export as GlobalAveragePool (which keeps `[N, C, 1, 1]`) then
 * Flatten (backfold gives `[N, C]`).
 * @since 0.2.0
 */
export const globalAvgPool2dKind = /* @__PURE__ */ leafKind({
  kind: 'globalAvgPool2d',
  required: {},
  optional: {},
  build: () => globalAvgPool2d(),
  onnx: {
    emit: (ctx) =>
      E.map((x: { readonly name: string; readonly shape: ReadonlyArray<number | string | null> }) => ({
        name: ctx.node('Flatten', [ctx.node('GlobalAveragePool', [x.name])], [intAttribute('axis', 1)]),
        shape: [x.shape[0] ?? null],
        elem: 'float' as const,
      }))(ctx.rank(3, '[channels, height, width]')),
  },
})
