import * as E from 'fp-ts/lib/Either.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Layer, NoParams, NoState } from '../layer'
import { badShape, fail } from './common'
import { leafKind } from './define'
import { intAttribute } from '../onnx/graph'

/**
 * Flattens each example to a vector: `[N, ...inShape]` → `[N, product(inShape)]` (PyTorch's
 * `nn.Flatten()`: row-major, so it matches PyTorch's layout after a conv stack).
 * @example
 * layers.flatten().init(T.random.key(0), [8, 7, 7]) // outShape [392]
 * @since 0.1.0
 */
export const flatten = (): Layer<NoParams, NoState> => ({
  kind: 'flatten',
  config: { kind: 'flatten' },
  init: (_key, inShape) => {
    const problem = badShape(inShape)
    if (problem !== undefined) return fail('flatten', problem)
    return E.right({ params: {}, state: {}, outShape: [T.sizeOf(inShape)] })
  },
  // The batch size is read from x, not inferred with -1, so an empty batch or example still reshapes.
  apply: (_params, state, x) => [O.reshape(x, [x.shape[0]!, T.sizeOf(x.shape.slice(1))]), state],
})

/**
 * The `flatten` kind: ONNX export as Flatten (axis 1); the input's element type passes through.
 * @since 0.2.0
 */
export const flattenKind = /* @__PURE__ */ leafKind({
  kind: 'flatten',
  required: {},
  optional: {},
  build: () => flatten(),
  onnx: {
    emit: (ctx) => {
      const dims = ctx.input.shape
      const size =
        dims.length === 1
          ? dims[0]!
          : dims.every((d): d is number => typeof d === 'number')
            ? dims.reduce((n, d) => n * d, 1)
            : null
      return E.right({
        name: ctx.node('Flatten', [ctx.input.name], [intAttribute('axis', 1)]),
        shape: [size],
        elem: ctx.input.elem,
      })
    },
    inputElem: () => 'pass',
  },
})
