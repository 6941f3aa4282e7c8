import * as E from 'fp-ts/lib/Either.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Layer, NoParams, NoState } from '../layer'
import { badShape, fail } from './common'

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
